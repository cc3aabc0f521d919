"""The OpenAI Files and Batch API: records, validation and the batch driver."""
