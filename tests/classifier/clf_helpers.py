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
