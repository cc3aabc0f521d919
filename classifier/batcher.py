"""Thread-safe micro-batcher: many threads ask, one background thread calls the model.

Batching is opportunistic: the background thread takes the first waiting request plus
whatever else is already queued (up to ``max_batch``) and calls ``classify_batch`` at
once. A lone request never waits for company, so batching adds no latency when the
worker is idle; under a burst, the requests that queue up while one batch runs form
the next batch, so N concurrent calls cost far fewer than N model calls.

``max_wait_seconds`` (default 0) optionally lingers that long for more requests once
one has arrived; leave it at 0 unless the model's per-call overhead is large.

``classify(request, timeout)`` gives up after ``timeout`` seconds with
:class:`ClassificationTimeout`. The request is dropped, not left in a bad state: one still
queued is cancelled (the background thread skips it, the model never sees it); one whose
batch is already running gets its late result set on a future nobody waits for any more.
A model call that hangs keeps the background thread (and the requests queued behind it)
waiting, but every caller is released at its own timeout.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

from classifier.strategies.base import ClassificationTimeout, Decision, Request, Strategy


class BatcherClosed(RuntimeError):
    pass


_Item = tuple[Request, "Future[Decision]"]


class MicroBatcher:
    def __init__(
        self, strategy: Strategy, max_batch: int = 32, max_wait_seconds: float = 0.0
    ) -> None:
        self.strategy = strategy
        self.max_batch = max_batch
        self.max_wait = max_wait_seconds
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
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
        """The decision for ``request``; :class:`ClassificationTimeout` when it does not
        come within ``timeout`` seconds (None: wait as long as it takes)."""
        future = self.submit(request)
        try:
            return future.result(timeout)
        except TimeoutError:
            if future.done() and not future.cancelled():
                # Finished meanwhile (or the strategy itself raised TimeoutError): that outcome.
                return future.result()
            # Still queued: cancelled, so the batcher skips it. Already running: the cancel
            # fails and the late result is set on a future nobody reads.
            future.cancel()
            raise ClassificationTimeout(
                f"no decision from {self.strategy.name} within {timeout:g}s"
            ) from None

    def classify_many(self, requests: Sequence[Request]) -> list[Decision]:
        futures = [self.submit(r) for r in requests]
        return [f.result() for f in futures]

    def close(self, timeout: float = 5.0) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout)

    def _take(self, batch: list[_Item]) -> bool:
        """Add what is already queued (or arrives within max_wait) to ``batch``;
        False when the close sentinel was seen."""
        deadline = time.monotonic() + self.max_wait if self.max_wait > 0 else 0.0
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic() if deadline else 0.0
                if remaining <= 0:
                    return True
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    return True
            if item is None:
                return False
            batch.append(item)
        return True

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            keep_going = self._take(batch)
            self._process(batch)
            if not keep_going:
                return

    def _process(self, batch: list[_Item]) -> None:
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
