"""The publishing side: submitting jobs."""

from producer.submit import AsyncProducer, Submission

__all__ = ["AsyncProducer", "Submission"]
