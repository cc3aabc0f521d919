"""A snapshot of a running system for ``laneway status``: queues, workers, backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from laneway import keys
from laneway.heartbeat import live_roles
from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.settings import Settings
from laneway.wire import queue_keys

ROLES = ("classify", *LANES)


@dataclass(frozen=True)
class BackendStatus:
    lane: str
    name: str
    in_flight: int
    """Calls holding one of its slots now, across every worker (leases not expired)."""
    limit: int
    breaker: str


@dataclass(frozen=True)
class SystemStatus:
    depths: dict[str, int]
    """Messages waiting in each queue, every priority sub-list counted."""
    workers: dict[str, int]
    """Live workers per role, from their heartbeats."""
    backends: list[BackendStatus]
    finished: dict[str, int]
    """Jobs finished per lane, since the counters began."""
    dead_letters: int


def read_status(client: redis.Redis, settings: Settings) -> SystemStatus:
    """Two round trips: Redis's clock (slot leases are scored by it), then the rest."""
    seconds, micros = client.time()
    now = seconds + micros / 1e6
    queues = [CLASSIFY_QUEUE, *(queue_for(lane) for lane in LANES)]
    backends = [(lane, b) for lane, config in settings.lanes.items() for b in config.backends]
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for key in queue_keys(queue):
            pipe.llen(key)
    for _, backend in backends:
        pipe.zcount(keys.slots(backend.name), now, "+inf")
        pipe.hget(keys.breaker(backend.name), "state")
    pipe.hgetall(keys.WORKER_HEARTBEAT)
    pipe.hgetall(keys.STATS)
    pipe.xlen(keys.DEAD_LETTERS)
    replies: list[Any] = pipe.execute()
    per_queue = len(queue_keys(queues[0]))
    depths = {
        queue: sum(int(n) for n in replies[i * per_queue : (i + 1) * per_queue])
        for i, queue in enumerate(queues)
    }
    rest = replies[len(queues) * per_queue :]
    statuses = [
        BackendStatus(
            lane,
            backend.name,
            int(rest[2 * i]),
            backend.max_concurrency,
            str(rest[2 * i + 1] or "closed"),
        )
        for i, (lane, backend) in enumerate(backends)
    ]
    heartbeats, stats, dead = rest[2 * len(backends) :]
    finished: dict[str, int] = {}
    for field, value in stats.items():
        kind, *labels = str(field).split("|")
        if kind == "finished" and len(labels) == 3:
            finished[labels[1]] = finished.get(labels[1], 0) + int(float(value))
    return SystemStatus(depths, live_roles(heartbeats), statuses, finished, int(dead))
