"""The Redis cache and the service, against a real redis-server."""

from __future__ import annotations

import threading

import redis
from clf_helpers import CountingStrategy, chat
from redis.backoff import NoBackoff
from redis.retry import Retry

from classifier.cache import PREFIX, ClassificationCache, request_key
from classifier.service import Classifier


def test_cache_hit_skips_the_model(clf_redis: redis.Redis) -> None:
    strategy = CountingStrategy("high-compute")
    service = Classifier(strategy, ClassificationCache(clf_redis, ttl_seconds=60))
    first = service.classify(chat("write a compiler"))
    second = service.classify(chat("write a compiler"))
    assert first == second
    assert strategy.calls == 1
    keys = clf_redis.keys(PREFIX + "*")
    assert len(keys) == 1
    assert 0 < clf_redis.ttl(keys[0]) <= 60


def test_key_ignores_irrelevant_fields_but_not_label_relevant_ones() -> None:
    base = chat("hello")
    assert request_key(base) == request_key(
        {**base, "temperature": 0.2, "user": "x", "model": "other"}
    )
    assert request_key(base) != request_key({**base, "max_tokens": 4000})
    assert request_key(base) != request_key({**base, "tools": [{"type": "function"}]})
    assert request_key(base) != request_key({**base, "response_format": {"type": "json_object"}})
    assert request_key(base) != request_key(chat("hello!"))
    assert request_key(base).startswith("laneway:clf:")


def test_fallbacks_are_not_cached(clf_redis: redis.Redis) -> None:
    strategy = CountingStrategy(error=RuntimeError("model exploded"))
    service = Classifier(strategy, ClassificationCache(clf_redis, ttl_seconds=60))
    for _ in range(2):
        decision = service.classify(chat("anything"))
        assert (decision.lane, decision.confidence, decision.strategy) == (
            "general",
            0.0,
            "fallback",
        )
        assert decision.reason == "fallback: model exploded"
    assert strategy.calls == 2
    assert clf_redis.keys(PREFIX + "*") == []


def test_concurrent_identical_requests_classify_once(clf_redis: redis.Redis) -> None:
    strategy = CountingStrategy("general", delay=0.2)
    cache = ClassificationCache(clf_redis, ttl_seconds=60, wait_seconds=2.0)
    services = [Classifier(strategy, cache) for _ in range(6)]
    results = []
    barrier = threading.Barrier(len(services))

    def run(service: Classifier) -> None:
        barrier.wait()
        results.append(service.classify(chat("same question")))

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert strategy.calls == 1
    assert len(results) == 6 and all(r.lane == "general" for r in results)


def test_single_flight_wait_is_bounded(clf_redis: redis.Redis) -> None:
    # A lock whose owner never finishes: the waiter classifies itself after the wait.
    strategy = CountingStrategy("fast-path")
    cache = ClassificationCache(clf_redis, ttl_seconds=60, wait_seconds=0.2)
    clf_redis.set(cache.key(chat("stuck")) + ":lock", b"1", px=10_000)
    decision, hit = cache.get_or_compute(chat("stuck"), strategy.classify)
    assert (decision.lane, hit, strategy.calls) == ("fast-path", False, 1)


def test_service_batch_uses_cache_and_one_model_call(clf_redis: redis.Redis) -> None:
    strategy = CountingStrategy("general")
    service = Classifier(strategy, ClassificationCache(clf_redis, ttl_seconds=60))
    service.classify(chat("a"))
    decisions = service.classify_batch([chat("a"), chat("b"), chat("c")])
    assert [d.lane for d in decisions] == ["general"] * 3
    assert strategy.batch_sizes == [1, 2]


def test_service_survives_redis_down() -> None:
    # No retries: redis-py 8 retries with backoff by default (~4 s a call).
    dead = redis.Redis(port=9, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    strategy = CountingStrategy("fast-path")
    service = Classifier(strategy, ClassificationCache(dead, ttl_seconds=60))
    assert service.classify(chat("hi")).lane == "fast-path"
    assert service.classify_batch([chat("hi")])[0].lane == "fast-path"
