"""The embedded Redis is durable; a Redis that is not gets a warning."""

from __future__ import annotations

from pathlib import Path

import redis

from laneway.redis_server import EmbeddedRedis
from laneway.supervisor import persistence_warning


def test_embedded_redis_is_durable(redis_server: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    config = {
        k: v
        for name in ("appendonly", "appendfsync", "maxmemory-policy")
        for k, v in client.config_get(name).items()
    }
    assert config == {
        "appendonly": "yes",
        "appendfsync": "everysec",
        "maxmemory-policy": "noeviction",
    }
    assert persistence_warning(redis_server.url) is None


def test_a_redis_that_keeps_nothing_is_flagged(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path, durable=False).start()
    try:
        warning = persistence_warning(server.url)
        assert warning is not None and "keeps nothing on disk" in warning
        redis.Redis.from_url(server.url).config_set("maxmemory-policy", "allkeys-lru")
        assert "may evict queued jobs" in (persistence_warning(server.url) or "")
    finally:
        server.stop()
