"""Circuit breakers per backend, shared by every worker through Redis.

A breaker opens after N consecutive failed calls; an open backend gets no
traffic. After the cooldown one caller — the first to take the probe lock —
sends a half-open probe; its success closes the breaker, its failure reopens it.
Workers read breaker states at most once a second (one pipelined read for all
backends), so the happy path costs no Redis round trip per job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from laneway import keys
from laneway.settings import BackendConfig, RetryConfig
from laneway.store import script_source

REFRESH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class BreakerState:
    state: str = "closed"
    failures: int = 0
    opened_at: float = 0.0


class Breakers:
    def __init__(self, client: redis.Redis, config: RetryConfig) -> None:
        self._redis = client
        self._config = config
        self._script = client.register_script(script_source("breaker"))
        self._lock = threading.Lock()
        self._states: dict[str, BreakerState] = {}
        self._fetched_at = 0.0

    def refresh(self, names: Sequence[str]) -> None:
        now = time.monotonic()
        if now - self._fetched_at < REFRESH_SECONDS and all(n in self._states for n in names):
            return
        with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(keys.breaker(name))
            replies: list[dict[str, Any]] = pipe.execute()
        with self._lock:
            for name, raw in zip(names, replies, strict=True):
                self._states[name] = BreakerState(
                    raw.get("state", "closed"),
                    int(raw.get("failures", 0)),
                    float(raw.get("opened_at", 0)),
                )
            self._fetched_at = now

    def state(self, name: str) -> BreakerState:
        return self._states.get(name, BreakerState())

    def available(self, backends: Sequence[BackendConfig]) -> list[BackendConfig]:
        """Backends that may take a call now (closed, or this caller holds the probe)."""
        if not backends:
            return []
        self.refresh([b.name for b in backends])
        return [b for b in backends if self._may_call(b.name)]

    def _may_call(self, name: str) -> bool:
        if self.state(name).state != "open":
            return True
        return self.cooled_down(name) and self._probe(name)

    def _probe(self, name: str) -> bool:
        ttl = int(self._config.breaker_cooldown_seconds * 1000)
        return bool(self._redis.set(keys.breaker_probe(name), "1", nx=True, px=ttl))

    def cooled_down(self, name: str) -> bool:
        state = self.state(name)
        return time.time() - state.opened_at >= self._config.breaker_cooldown_seconds

    def seconds_until_retry(self, backends: Sequence[BackendConfig]) -> float:
        """How long until the first open breaker among ``backends`` may be probed."""
        cooldown = self._config.breaker_cooldown_seconds
        now = time.time()
        waits = [
            max(0.0, self.state(b.name).opened_at + cooldown - now)
            for b in backends
            if self.state(b.name).state == "open"
        ]
        return min(waits) if waits else 0.0

    def failure(self, backend: BackendConfig) -> str:
        return self._record(backend.name, "failure")

    def success(self, backend: BackendConfig) -> None:
        """Close the breaker; skipped (no round trip) when it is known to be clean."""
        state = self.state(backend.name)
        if state.state != "closed" or state.failures:
            self._record(backend.name, "success")

    def _record(self, name: str, outcome: str) -> str:
        now = time.time()
        result = str(
            self._script(
                keys=[keys.breaker(name), keys.breaker_probe(name)],
                args=[outcome, str(now), str(self._config.breaker_failure_threshold)],
            )
        )
        with self._lock:
            previous = self.state(name)
            if outcome == "success":
                self._states[name] = BreakerState()
            else:
                opened = now if result == "open" else previous.opened_at
                self._states[name] = BreakerState(result, previous.failures + 1, opened)
        return result
