"""Workers announce themselves in Redis so that readiness checks can see them."""

from __future__ import annotations

import json
import threading
import time
from contextlib import suppress
from typing import Any

import redis

from laneway import keys

INTERVAL_SECONDS = 5.0
STALE_AFTER_SECONDS = 3 * INTERVAL_SECONDS


class Heartbeat:
    def __init__(self, client: redis.Redis, name: str, role: str) -> None:
        self._redis = client
        self._name = name
        self._role = role
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="laneway-heartbeat", daemon=True)

    def start(self) -> None:
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with suppress(redis.RedisError):
            self._redis.hdel(keys.WORKER_HEARTBEAT, self._name)

    def _beat(self) -> None:
        value = json.dumps({"role": self._role, "at": time.time()})
        self._redis.hset(keys.WORKER_HEARTBEAT, self._name, value)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            try:
                self._beat()
            except redis.RedisError:
                continue  # Redis may be restarting; the next beat retries


def live_roles(entries: dict[str, str], now: float | None = None) -> dict[str, int]:
    """How many fresh workers each role has, from the heartbeat hash."""
    now = now or time.time()
    roles: dict[str, int] = {}
    for raw in entries.values():
        try:
            entry: dict[str, Any] = json.loads(raw)
        except ValueError:
            continue
        if now - float(entry.get("at", 0)) <= STALE_AFTER_SECONDS:
            role = str(entry.get("role"))
            roles[role] = roles.get(role, 0) + 1
    return roles
