"""``classifier.timeout_seconds`` bounds one classification, whatever the strategy.

A model call that hangs is played by a real strategy that sleeps (or waits on an event)
in ``classify_batch``, run through the real micro-batcher, service and Redis cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest
import redis
from clf_helpers import CountingStrategy, chat

from classifier.batcher import MicroBatcher
from classifier.cache import PREFIX, ClassificationCache
from classifier.service import ClassificationTimeout, Classifier
from classifier.strategies import CascadeStrategy, RulesStrategy
from classifier.strategies.base import Decision, Request
from classifier.tasks import decide
from laneway.lanes import Lane
from laneway.settings import ClassifierConfig

# Not confident enough for the rules stage of a cascade, so it goes to the model.
AMBIGUOUS = chat(
    "My neighbour keeps parking in front of my driveway and I am not sure how to bring it "
    "up without starting a feud with them"
)


class StallingStrategy(CountingStrategy):
    """Its first ``stalls`` model calls take ``stall`` seconds (or, with ``gate``, until
    the gate opens); ``finished`` is set when a stalled call has returned its decisions."""

    def __init__(
        self,
        stall: float = 1.0,
        stalls: int = 1,
        gate: threading.Event | None = None,
        lane: Lane = "high-compute",
    ) -> None:
        super().__init__(lane)
        self.stall = stall
        self.stalls = stalls
        self.gate = gate
        self.finished = threading.Event()

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        with self._lock:
            stalled = self.calls < self.stalls
        decisions = super().classify_batch(requests)
        if stalled:
            if self.gate is not None:
                assert self.gate.wait(10)
            else:
                time.sleep(self.stall)
            self.finished.set()
        return decisions


def _timed(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except BaseException as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_hung_model_call_times_out_and_the_next_call_works() -> None:
    strategy = StallingStrategy(stall=1.0)
    service = Classifier(strategy, batch=True, timeout_seconds=0.25)
    try:
        error, elapsed = _timed(lambda: service.classify(chat("write a compiler")))
        assert isinstance(error, ClassificationTimeout), error
        assert "classifier.timeout_seconds=0.25s" in str(error)
        assert "counting" in str(error)  # names the strategy
        assert 0.2 <= elapsed < 0.6
        # The late decision lands on a future nobody waits for; the batcher carries on.
        assert strategy.finished.wait(5)
        assert service.batcher is not None and service.batcher._thread.is_alive()
        started = time.monotonic()
        decision = service.classify(chat("write a compiler"))
        assert (decision.lane, decision.strategy) == ("high-compute", "counting")
        assert time.monotonic() - started < 0.2
        assert strategy.batch_sizes == [1, 1]
    finally:
        service.close()


def test_decide_routes_a_timed_out_classification_to_general() -> None:
    service = Classifier(StallingStrategy(stall=0.6), batch=True, timeout_seconds=0.2)
    try:
        started = time.monotonic()
        decision = decide(service, chat("write a compiler"))
        assert time.monotonic() - started < 0.5
        assert (decision.lane, decision.confidence, decision.strategy) == (
            "general",
            0.0,
            "fallback",
        )
        assert "ClassificationTimeout" in decision.reason
        assert "classifier.timeout_seconds=0.2s" in decision.reason
    finally:
        service.close()


def test_a_request_that_times_out_in_the_queue_never_reaches_the_model() -> None:
    gate = threading.Event()
    strategy = StallingStrategy(gate=gate)
    batcher = MicroBatcher(strategy)
    try:
        first = batcher.submit(chat("first"))
        deadline = time.monotonic() + 5
        while not strategy.calls and time.monotonic() < deadline:
            time.sleep(0.005)
        assert strategy.calls == 1  # the first batch is running (and stuck)
        error, elapsed = _timed(lambda: batcher.classify(chat("queued"), timeout=0.1))
        assert isinstance(error, ClassificationTimeout) and elapsed < 0.5
        gate.set()
        assert first.result(5).lane == "high-compute"
        assert batcher.classify(chat("after"), timeout=5).lane == "high-compute"
        # The timed-out request was cancelled while queued: the model saw 1 + 1 requests.
        assert strategy.batch_sizes == [1, 1]
        assert batcher.items == 2
    finally:
        gate.set()
        batcher.close()


def test_no_timeout_without_a_bound_and_quick_answers_skip_the_clock() -> None:
    # Confident rules answer before the batcher, so even a stuck model does not matter.
    gate = threading.Event()
    model = StallingStrategy(gate=gate)
    service = Classifier(CascadeStrategy(RulesStrategy(), model), batch=True, timeout_seconds=0.1)
    try:
        assert service.classify(chat("hello!")).lane == "fast-path"
        assert model.calls == 0
    finally:
        gate.set()
        service.close()
    # timeout_seconds=None keeps the old behaviour: wait as long as the model takes.
    unbounded = Classifier(StallingStrategy(stall=0.3), batch=True)
    try:
        assert unbounded.classify(chat("x")).lane == "high-compute"
    finally:
        unbounded.close()
    with pytest.raises(ValueError, match="positive"):
        Classifier(CountingStrategy(), timeout_seconds=0)


def test_timed_out_decision_is_not_cached(clf_redis: redis.Redis) -> None:
    strategy = StallingStrategy(stall=0.8)
    cache = ClassificationCache(clf_redis, ttl_seconds=60)
    service = Classifier(strategy, cache, batch=True, timeout_seconds=0.25)
    try:
        error, elapsed = _timed(lambda: service.classify(chat("write a compiler")))
        assert isinstance(error, ClassificationTimeout) and elapsed < 0.6
        assert strategy.finished.wait(5)
        # Neither the (late) decision nor the single-flight lock is left behind.
        assert clf_redis.keys(PREFIX + "*") == []
        decision = service.classify(chat("write a compiler"))
        assert decision.lane == "high-compute"
        assert service.classify(chat("write a compiler")) == decision
        assert strategy.calls == 2  # the third call was a cache hit
        assert len(clf_redis.keys(PREFIX + "*")) == 1
    finally:
        service.close()


def test_single_flight_waiters_are_released_when_the_owner_times_out(
    clf_redis: redis.Redis,
) -> None:
    # The waiters' single-flight wait (5 s) is far longer than the classification bound.
    strategy = StallingStrategy(stall=0.6, stalls=10)
    cache = ClassificationCache(clf_redis, ttl_seconds=60, wait_seconds=5.0)
    services = [Classifier(strategy, cache, batch=True, timeout_seconds=0.25) for _ in range(3)]
    outcomes: list[tuple[BaseException | None, float]] = []
    barrier = threading.Barrier(len(services))

    def run(service: Classifier) -> None:
        barrier.wait()
        outcomes.append(_timed(lambda: service.classify(chat("same question"))))

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert len(outcomes) == 3
        for error, elapsed in outcomes:
            assert isinstance(error, ClassificationTimeout), error
            assert elapsed < 0.6
        assert clf_redis.keys(PREFIX + "*") == []
    finally:
        for service in services:
            service.close()


def test_waiter_stops_when_the_owner_gives_up_and_never_waits_past_its_deadline(
    clf_redis: redis.Redis,
) -> None:
    strategy = CountingStrategy("fast-path")
    cache = ClassificationCache(clf_redis, ttl_seconds=60, wait_seconds=5.0)
    lock = cache.key(chat("stuck")) + ":lock"

    # The owner gives up (its lock goes) without a result: the waiter decides itself.
    clf_redis.set(lock, b"1", px=10_000)
    threading.Timer(0.1, clf_redis.delete, args=(lock,)).start()
    started = time.monotonic()
    decision, hit = cache.get_or_compute(chat("stuck"), strategy.classify)
    assert (decision.lane, hit) == ("fast-path", False)
    assert 0.05 < time.monotonic() - started < 1.0

    # An owner that never finishes: the wait ends at the caller's deadline.
    clf_redis.flushdb()
    clf_redis.set(lock, b"1", px=10_000)
    started = time.monotonic()
    cache.get_or_compute(chat("stuck"), strategy.classify, deadline=started + 0.2)
    assert 0.15 < time.monotonic() - started < 0.6
    assert strategy.calls == 2


def test_an_owner_that_raises_releases_the_lock(clf_redis: redis.Redis) -> None:
    cache = ClassificationCache(clf_redis, ttl_seconds=60)

    def too_slow(request: Request) -> Decision:
        raise ClassificationTimeout("too slow")

    with pytest.raises(ClassificationTimeout, match="too slow"):
        cache.get_or_compute(chat("anything"), too_slow)
    assert clf_redis.keys(PREFIX + "*") == []


def test_from_config_bounds_the_classifier_and_keeps_rules_inline() -> None:
    rules = Classifier.from_config(ClassifierConfig(strategy="rules", timeout_seconds=0.5))
    assert rules.timeout == 0.5
    assert rules.batcher is None  # no thread hop for the cheap path
    assert rules.classify(chat("hello!")).lane == "fast-path"
