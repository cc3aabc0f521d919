"""The publishing side: submitting jobs."""

from producer.admission import RequestRejected
from producer.submit import AsyncProducer, Submission

__all__ = ["AsyncProducer", "RequestRejected", "Submission"]
