"""The publishing side: submitting jobs."""

from producer.submit import AsyncProducer, Producer, Submission

__all__ = ["AsyncProducer", "Producer", "Submission"]
