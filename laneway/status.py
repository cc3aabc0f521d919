"""A snapshot of a running system for ``laneway status``: queues, workers, backends.

Two or three Redis round trips: Redis's clock (slot leases and the last minute's
hashes go by it), then one pipeline for the rest, then the records of the jobs next in
line (only while some queue holds messages, see :mod:`laneway.queue_age`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from laneway import histograms, keys
from laneway.heartbeat import live_concurrency, live_roles
from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.queue_age import RECORD_FIELDS, oldest_ages, queued_jobs
from laneway.settings import Settings
from laneway.wire import queue_keys

ROLES = ("classify", *LANES)
QUEUES = (CLASSIFY_QUEUE, *(queue_for(lane) for lane in LANES))
PER_QUEUE = len(queue_keys(QUEUES[0]))
CALLS = next(s for s in histograms.HISTOGRAMS if s.field == "backend_call_seconds")


@dataclass(frozen=True)
class BackendStatus:
    lane: str
    name: str
    in_flight: int
    """Calls holding one of its slots now, across every worker (leases not expired)."""
    limit: int
    breaker: str
    p50_last_minute: float | None
    """Seconds, estimated from the backend-call histogram's buckets; None: no calls."""
    p50_since_start: float | None
    calls_last_minute: int


@dataclass(frozen=True)
class SystemStatus:
    depths: dict[str, int]
    """Messages waiting in each queue, every priority sub-list counted."""
    oldest: dict[str, float]
    """Seconds the job next in line in each queue has waited (0: empty)."""
    workers: dict[str, int]
    """Live workers per role, from their heartbeats."""
    concurrency: dict[str, int]
    """Jobs each role's live workers run at once, summed."""
    backends: list[BackendStatus]
    finished: dict[str, int]
    """Jobs finished per lane, since the counters began."""
    finished_last_minute: dict[str, int]
    window_seconds: float
    """What "the last minute" covers: 50 to 60 seconds of whole slots up to now."""
    spillovers: dict[str, int]
    """Queued jobs moved between lanes, by ``from -> to``, since the counters began."""
    dead_letters: int

    def throughput(self, lane: str) -> float:
        """Jobs per second the lane finished over the last minute."""
        return self.finished_last_minute.get(lane, 0) / self.window_seconds


def read_status(client: redis.Redis, settings: Settings) -> SystemStatus:
    seconds, micros = client.time()
    now = seconds + micros / 1e6
    recent, window = histograms.recent_window(now)
    backends = [(lane, b) for lane, config in settings.lanes.items() for b in config.backends]
    lists = [key for queue in QUEUES for key in queue_keys(queue)]
    pipe = client.pipeline(transaction=False)
    for key in lists:
        pipe.llen(key)
    for key in lists:
        pipe.lindex(key, -1)
    for _, backend in backends:
        pipe.zcount(keys.slots(backend.name), now, "+inf")
        pipe.hget(keys.breaker(backend.name), "state")
    for key in (keys.WORKER_HEARTBEAT, keys.STATS, keys.HISTOGRAMS, *recent):
        pipe.hgetall(key)
    pipe.xlen(keys.DEAD_LETTERS)
    replies: list[Any] = pipe.execute()
    lengths, heads = replies[: len(lists)], replies[len(lists) : 2 * len(lists)]
    depths = {
        queue: sum(int(n) for n in lengths[i * PER_QUEUE : (i + 1) * PER_QUEUE])
        for i, queue in enumerate(QUEUES)
    }
    rest = replies[2 * len(lists) :]
    per_backend, rest = rest[: 2 * len(backends)], rest[2 * len(backends) :]
    heartbeats, stats, since_start = rest[0], rest[1], rest[2]
    slots, dead = rest[3 : 3 + len(recent)], rest[-1]
    calls: dict[tuple[str, ...], histograms.Series] = {}
    finished_recently: dict[str, int] = {}
    for slot in slots:
        for backend_labels, series in histograms.read(slot)[CALLS.field].items():
            calls.setdefault(backend_labels, histograms.Series()).add(series)
        for field, value in slot.items():
            kind, _, lane_name = str(field).partition("|")
            if kind == "finished":
                finished_recently[lane_name] = finished_recently.get(lane_name, 0) + int(value)
    started = histograms.read(since_start)[CALLS.field]
    statuses = []
    for i, (lane, backend) in enumerate(backends):
        recent_calls = calls.get((lane, backend.name), histograms.Series())
        all_calls = started.get((lane, backend.name), histograms.Series())
        statuses.append(
            BackendStatus(
                lane,
                backend.name,
                int(per_backend[2 * i]),
                backend.max_concurrency,
                str(per_backend[2 * i + 1] or "closed"),
                recent_calls.quantile(0.5, CALLS.buckets),
                all_calls.quantile(0.5, CALLS.buckets),
                recent_calls.count,
            )
        )
    finished: dict[str, int] = {}
    spillovers: dict[str, int] = {}
    for field, value in stats.items():
        kind, *labels = str(field).split("|")
        if kind == "finished" and len(labels) == 3:
            finished[labels[1]] = finished.get(labels[1], 0) + int(float(value))
        elif kind == "spillover" and len(labels) == 2:
            spillovers[f"{labels[0]} -> {labels[1]}"] = int(float(value))
    return SystemStatus(
        depths=depths,
        oldest=_oldest(client, heads),
        workers=live_roles(heartbeats),
        concurrency=live_concurrency(heartbeats),
        backends=statuses,
        finished=finished,
        finished_last_minute=finished_recently,
        window_seconds=window,
        spillovers=spillovers,
        dead_letters=int(dead),
    )


def _oldest(client: redis.Redis, heads: list[str | None]) -> dict[str, float]:
    found = queued_jobs(QUEUES, PER_QUEUE, heads)
    if not found:
        return {}
    pipe = client.pipeline(transaction=False)
    for _, job_id in found:
        pipe.hmget(keys.job(job_id), *RECORD_FIELDS)
    # job records are stamped with the API's clock, as the metrics gauge reads them
    return oldest_ages(found, pipe.execute(), time.time())
