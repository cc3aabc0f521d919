"""The micro-batcher: a lone request is answered at once, a burst costs few model calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from clf_helpers import CountingStrategy, chat

from classifier.batcher import BatcherClosed, MicroBatcher
from classifier.service import Classifier
from classifier.strategies.base import Decision, Request


def test_burst_is_batched() -> None:
    strategy = CountingStrategy("general", delay=0.01)
    batcher = MicroBatcher(strategy, max_batch=16)
    results: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(20):
            decision = batcher.classify(chat(f"{n}-{i}"), timeout=10)
            with lock:
                results.append(decision.lane)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert len(results) == 160 and set(results) == {"general"}
    assert sum(strategy.batch_sizes) == 160
    assert max(strategy.batch_sizes) <= 16
    assert strategy.calls < 80  # far fewer model calls than requests


def test_errors_reach_every_waiter_and_service_falls_back() -> None:
    strategy = CountingStrategy(error=ValueError("boom"))
    batcher = MicroBatcher(strategy)
    with pytest.raises(ValueError, match="boom"):
        batcher.classify(chat("x"), timeout=5)
    batcher.close()
    service = Classifier(CountingStrategy(error=ValueError("boom")), batch=True)
    decision = service.classify(chat("x"))
    assert (decision.lane, decision.strategy) == ("general", "fallback")
    service.close()


def test_closed_batcher_refuses() -> None:
    batcher = MicroBatcher(CountingStrategy())
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(chat("x"))


class GatedStrategy(CountingStrategy):
    """The first ``classify_batch`` call blocks until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__("general")
        self.entered = threading.Event()
        self.release = threading.Event()

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(10)
        return super().classify_batch(requests)


def test_lone_request_does_not_wait_for_company() -> None:
    eager = MicroBatcher(CountingStrategy(), max_wait_seconds=0.0)
    lingering = MicroBatcher(CountingStrategy(), max_wait_seconds=1.0)
    try:
        started = time.perf_counter()
        eager.classify(chat("alone"), timeout=5)
        eager_s = time.perf_counter() - started
        started = time.perf_counter()
        lingering.classify(chat("alone"), timeout=5)
        lingering_s = time.perf_counter() - started
    finally:
        eager.close()
        lingering.close()
    assert lingering_s >= 0.9  # the lingering batcher waited for more requests...
    assert eager_s < 0.5  # ...the default one answered at once
    assert eager.batches == 1 and eager.items == 1


def test_requests_queued_during_a_call_form_the_next_batch() -> None:
    strategy = GatedStrategy()
    batcher = MicroBatcher(strategy, max_batch=32)
    first = batcher.submit(chat("first"))
    assert strategy.entered.wait(5)
    rest = [batcher.submit(chat(f"queued {i}")) for i in range(9)]
    strategy.release.set()
    decisions = [f.result(5) for f in (first, *rest)]
    batcher.close()
    assert [d.lane for d in decisions] == ["general"] * 10
    assert strategy.calls == 2  # one call for the lone first request, one for the rest
    assert strategy.batch_sizes == [1, 9]


def test_max_batch_caps_a_burst() -> None:
    strategy = GatedStrategy()
    batcher = MicroBatcher(strategy, max_batch=4)
    futures = [batcher.submit(chat("first"))]
    assert strategy.entered.wait(5)
    futures += [batcher.submit(chat(f"queued {i}")) for i in range(10)]
    strategy.release.set()
    for future in futures:
        future.result(5)
    batcher.close()
    assert strategy.batch_sizes == [1, 4, 4, 2]
