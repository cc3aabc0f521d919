"""Thread-safe micro-batcher: many threads ask, one background thread calls the model.

A burst of N concurrent ``classify`` calls costs about N / max_batch model calls instead
of N: the background thread takes whatever is waiting (up to ``max_batch`` items, waiting
at most ``max_wait_seconds`` for more once it has one) and calls ``classify_batch`` once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

from classifier.strategies.base import Decision, Request, Strategy


class BatcherClosed(RuntimeError):
    pass


class MicroBatcher:
    def __init__(
        self, strategy: Strategy, max_batch: int = 32, max_wait_seconds: float = 0.002
    ) -> None:
        self.strategy = strategy
        self.max_batch = max_batch
        self.max_wait = max_wait_seconds
        self._queue: queue.SimpleQueue[tuple[Request, Future[Decision]] | None] = (
            queue.SimpleQueue()
        )
        self._closed = False
        self.batches = 0
        self.items = 0
        self._thread = threading.Thread(target=self._run, name="classifier-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: Request) -> Future[Decision]:
        if self._closed:
            raise BatcherClosed("batcher is closed")
        future: Future[Decision] = Future()
        self._queue.put((request, future))
        return future

    def classify(self, request: Request, timeout: float | None = None) -> Decision:
        return self.submit(request).result(timeout)

    def classify_many(self, requests: Sequence[Request]) -> list[Decision]:
        futures = [self.submit(r) for r in requests]
        return [f.result() for f in futures]

    def close(self, timeout: float = 5.0) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait
            stop = False
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else (self._queue.get_nowait())
                    )
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._process(batch)
            if stop:
                return

    def _process(self, batch: list[tuple[Request, Future[Decision]]]) -> None:
        live = [(r, f) for r, f in batch if f.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        self.items += len(live)
        try:
            decisions = self.strategy.classify_batch([r for r, _ in live])
            if len(decisions) != len(live):
                raise RuntimeError("classify_batch returned the wrong number of decisions")
        except BaseException as exc:
            for _, future in live:
                future.set_exception(exc)
            return
        for (_, future), decision in zip(live, decisions, strict=True):
            future.set_result(decision)
