"""Helpers shared by the classifier tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from classifier.strategies.base import Decision, Request, Strategy
from laneway.lanes import Lane


class CountingStrategy(Strategy):
    """Answers a fixed lane, counting calls and batch sizes; optionally slow or failing."""

    name = "counting"
    batched = True

    def __init__(
        self,
        lane: Lane = "general",
        confidence: float = 0.9,
        delay: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.lane = lane
        self.confidence = confidence
        self.delay = delay
        self.error = error
        self.calls = 0
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def classify(self, request: Request) -> Decision:
        return self.classify_batch([request])[0]

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        with self._lock:
            self.calls += 1
            self.batch_sizes.append(len(requests))
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return [Decision(self.lane, self.confidence, "counting", self.name) for _ in requests]


def chat(text: str, **fields: object) -> dict[str, object]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **fields}


# A team whose general model does step-by-step arithmetic well: the packaged bank sends
# these to high-compute; they label theirs general.
THEIRS = [
    "Compute the sum of the first 10 odd numbers and explain each step.",
    "Compute the sum of the first 20 even numbers and explain each step.",
    "Compute the product of the first 5 primes and explain each step.",
    "Compute the sum of the first 12 squares and explain each step.",
    "Compute the sum of the first 8 cubes and explain each step.",
    "Compute the sum of the first 15 odd numbers and explain each step.",
    "Compute the product of the first 6 even numbers and explain each step.",
    "Compute the sum of the first 25 even numbers and explain each step.",
]
PROBE = "Compute the sum of the first 30 odd numbers and explain each step."
"""Not in their file: a request like theirs."""
