"""The micro-batcher: a burst from many threads costs few model calls."""

from __future__ import annotations

import threading

import pytest
from clf_helpers import CountingStrategy, chat

from classifier.batcher import BatcherClosed, MicroBatcher
from classifier.service import Classifier


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
