"""The interface every classification strategy implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from laneway.lanes import Lane

Request = Mapping[str, Any]
"""An OpenAI chat-completions or completions request body."""


@dataclass(frozen=True, slots=True)
class Decision:
    lane: Lane
    confidence: float
    reason: str
    strategy: str


class Strategy(ABC):
    name: str
    batched: bool = False
    """True when ``classify_batch`` amortises a model call, so a micro-batcher pays off."""
    version: str = ""
    """What the strategy learned from (e.g. the trained heads' content hash): decisions
    cached under one version are not served by another."""

    @abstractmethod
    def classify(self, request: Request) -> Decision: ...

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        """Classify several requests; strategies with a model override this to batch."""
        return [self.classify(request) for request in requests]

    def quick(self, request: Request) -> Decision | None:
        """A decision that needs no model (e.g. a confident rule), else None."""
        return None


class StrategyUnavailable(RuntimeError):
    """A strategy could not decide (backend down, timeout, bad answer); try the next one."""


class ClassificationTimeout(Exception):
    """No decision within the classification's time bound (``classifier.timeout_seconds``).

    ``Classifier.classify`` raises it instead of answering a fallback decision, so the
    caller (``classifier.tasks.decide``) routes the job to ``general`` with it as the
    reason; it is never cached."""
