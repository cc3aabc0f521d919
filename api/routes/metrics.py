"""``GET /metrics``: Prometheus metrics for the whole system, read from Redis.

Counters and histograms are kept by the Lua scripts in two Redis hashes (``keys.STATS``,
``keys.HISTOGRAMS``), so a single scrape of any API process sees every worker's work;
API request counts are added by each API process (see api/request_counts.py). Queue
depths and their oldest job's age, calls in flight, breaker states and live workers
are read at scrape time. Labels are lanes, backends, models, strategies, routes and
statuses: all from the configuration or the code, never job ids or tenants.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from api.batch.records import STATUSES as BATCH_STATUSES
from api.deps import StateDep
from laneway import histograms, keys
from laneway.heartbeat import live_roles
from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.queue_age import RECORD_FIELDS, oldest_ages, queued_jobs
from laneway.settings import BackendConfig
from laneway.wire import queue_keys

router = APIRouter(tags=["metrics"])
QUEUES = (CLASSIFY_QUEUE, *(queue_for(lane) for lane in LANES))
PER_QUEUE = len(queue_keys(QUEUES[0]))
CLASSIFIER_FORCED = "route"
"""The strategy recorded on a job whose lane the client forced: no classifier decision."""


@dataclass(frozen=True)
class CounterSpec:
    name: str
    help: str
    labels: tuple[str, ...] = ()


# stored field kind -> the counter it feeds (fields: kind|label values...)
COUNTERS = {
    "routed": CounterSpec(
        "laneway_jobs_routed",
        "Jobs given a lane: classifier decisions and lanes forced by the client "
        "(strategy 'route').",
        ("lane", "strategy"),
    ),
    "finished": CounterSpec(
        "laneway_jobs_finished", "Jobs that reached a final state.", ("status", "lane", "backend")
    ),
    "cost": CounterSpec(
        "laneway_cost",
        "Cost of answered jobs at the backends' prices per 1k tokens.",
        ("lane", "backend", "model"),
    ),
    "tokens": CounterSpec(
        "laneway_tokens",
        "Prompt and completion tokens of answered jobs (the backend's usage, or laneway's "
        "count when it sends none).",
        ("lane", "backend", "model", "kind"),
    ),
    "slot_waits": CounterSpec(
        "laneway_slot_waits",
        "Deliveries that found every backend of their lane at its max_concurrency "
        "(fleet-wide) and waited for a call slot.",
        ("lane",),
    ),
    "retries": CounterSpec(
        "laneway_retries",
        "Failed backend calls followed by another call in the same lane (labels: the "
        "failed call's).",
        ("lane", "backend"),
    ),
    "fallbacks": CounterSpec(
        "laneway_fallbacks",
        "Jobs a lane worker sent on to another lane (fallback, or a larger context window).",
        ("from_lane", "to_lane"),
    ),
    "deferrals": CounterSpec(
        "laneway_deferrals",
        "Jobs sent back to their own lane's queue for later (backends cooling down or full).",
        ("lane",),
    ),
    "spillover": CounterSpec(
        "laneway_spillovers",
        "Queued jobs moved to another lane that had room (lane spillover).",
        ("from_lane", "to_lane"),
    ),
    "api_requests": CounterSpec(
        "laneway_api_requests", "HTTP requests answered, by route template.", ("route", "status")
    ),
}
UNLABELLED = {
    "submitted": CounterSpec("laneway_jobs_submitted", "Jobs accepted by the API."),
    "rejected": CounterSpec(
        "laneway_jobs_rejected", "Submits refused because their queue was full."
    ),
    "dead_lettered": CounterSpec(
        "laneway_dead_letters", "Jobs sent to the dead-letter store (laneway dead)."
    ),
    "classifier_cache_hits": CounterSpec(
        "laneway_classifier_cache_hits", "Classifier decisions served from its cache."
    ),
}


@dataclass(eq=False)  # registered by identity
class Snapshot(Collector):
    stats: Mapping[str, str]
    hist: Mapping[str, str]
    depths: Mapping[str, int]
    oldest: Mapping[str, float]
    backends: Sequence[BackendConfig]
    in_flight: Mapping[str, int]
    breakers: Mapping[str, Mapping[str, str]]
    roles: Mapping[str, int]
    dead: int

    def counters(self) -> Iterator[Metric]:
        families = {
            kind: CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
            for kind, spec in COUNTERS.items()
        }
        decisions = CounterMetricFamily(
            "laneway_classifier_decisions",
            "Lanes the classifier decided (jobs whose lane the client forced excluded).",
            labels=["strategy", "lane"],
        )
        for field, value in self.stats.items():
            kind, *labels = field.split("|")
            if kind == "cost" and len(labels) == 2:
                labels.append("")  # counted before the model label existed
            family, spec = families.get(kind), COUNTERS.get(kind)
            if family is None or spec is None or len(labels) != len(spec.labels):
                continue
            family.add_metric(labels, float(value))
            if kind == "routed" and labels[1] != CLASSIFIER_FORCED:
                decisions.add_metric([labels[1], labels[0]], float(value))
        yield from families.values()
        yield decisions
        # Unlabelled counters have one sample from the start, zero until counted.
        for kind, spec in UNLABELLED.items():
            counter = CounterMetricFamily(spec.name, spec.help)
            counter.add_metric([], float(self.stats.get(kind, 0)))
            yield counter

    def histograms(self) -> Iterator[Metric]:
        stored = histograms.read(self.hist)
        for spec in histograms.HISTOGRAMS:
            family = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
            for labels, series in sorted(stored[spec.field].items()):
                family.add_metric(
                    list(labels), series.cumulative(spec.buckets), sum_value=series.total
                )
            yield family

    def gauges(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "laneway_queue_depth", "Messages waiting in a queue (all priorities).", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "laneway_queue_oldest_age_seconds",
            "Seconds the job next in line in a queue has waited there (0: empty queue).",
            labels=["queue"],
        )
        for queue in QUEUES:
            depth.add_metric([queue], self.depths.get(queue, 0))
            oldest.add_metric([queue], round(self.oldest.get(queue, 0.0), 3))
        yield depth
        yield oldest
        in_flight = GaugeMetricFamily(
            "laneway_backend_in_flight",
            "Calls to a backend in flight, fleet-wide (its call slots held).",
            labels=["backend"],
        )
        limit = GaugeMetricFamily(
            "laneway_backend_max_concurrency",
            "A backend's max_concurrency: most calls to it at once, fleet-wide.",
            labels=["backend"],
        )
        breaker = GaugeMetricFamily(
            "laneway_backend_breaker_open",
            "1 when a backend's circuit breaker is open.",
            labels=["backend"],
        )
        for backend in self.backends:
            in_flight.add_metric([backend.name], self.in_flight.get(backend.name, 0))
            limit.add_metric([backend.name], backend.max_concurrency)
            state = self.breakers.get(backend.name, {}).get("state")
            breaker.add_metric([backend.name], 1.0 if state == "open" else 0.0)
        yield from (in_flight, limit, breaker)
        stored = GaugeMetricFamily(
            "laneway_dead_letters_stored", "Entries in the dead-letter store (laneway dead list)."
        )
        stored.add_metric([], self.dead)
        yield stored
        workers = GaugeMetricFamily("laneway_workers", "Live workers per role.", labels=["role"])
        for role in ("classify", *LANES):
            workers.add_metric([role], self.roles.get(role, 0))
        yield workers

    def collect(self) -> Iterator[Metric]:
        yield from self.counters()
        yield from self.histograms()
        yield from self.gauges()


class BatchSnapshot(Collector):
    """Batches by status, and their lines by outcome (see api/batch)."""

    def __init__(self, statuses: Iterable[str], stats: Mapping[str, str]) -> None:
        self.statuses = Counter(statuses)
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        batches = GaugeMetricFamily("laneway_batches", "Batches by status.", labels=["status"])
        for status in BATCH_STATUSES:
            batches.add_metric([status], self.statuses.get(status, 0))
        yield batches
        lines = CounterMetricFamily(
            "laneway_batch_lines", "Batch lines finished, by outcome.", labels=["outcome"]
        )
        for outcome in ("succeeded", "failed"):
            lines.add_metric([outcome], float(self.stats.get(f"batch_lines|{outcome}", 0)))
        yield lines


async def batch_collector(client: aioredis.Redis, stats: Mapping[str, str]) -> BatchSnapshot:
    statuses = cast(dict[str, str], await client.hgetall(keys.BATCH_STATUSES))
    return BatchSnapshot(statuses.values(), stats)


@router.get("/metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    backends = [b for lane in state.settings.lanes.values() for b in lane.backends]
    lists = [key for queue in QUEUES for key in queue_keys(queue)]
    async with state.redis.pipeline(transaction=False) as pipe:
        # this process's request counts go in first, so that its own are exact
        taken = state.request_counts.queue_flush(pipe)
        pipe.time()
        pipe.hgetall(keys.STATS)
        pipe.hgetall(keys.HISTOGRAMS)
        for key in lists:
            pipe.llen(key)
        for key in lists:
            pipe.lindex(key, -1)  # next in line: the oldest but for high-priority ones
        for backend in backends:
            pipe.hgetall(keys.breaker(backend.name))
            pipe.zrange(keys.slots(backend.name), 0, -1, withscores=True)
        pipe.hgetall(keys.WORKER_HEARTBEAT)
        pipe.xlen(keys.DEAD_LETTERS)
        try:
            replies: list[Any] = await pipe.execute()
        except Exception:
            state.request_counts.restore(taken)
            raise
    replies = replies[len(taken) :]
    seconds, micros = replies[0]
    redis_now = int(seconds) + int(micros) / 1e6
    stats, hist = cast(dict[str, str], replies[1]), cast(dict[str, str], replies[2])
    at = 3
    lengths, heads = replies[at : at + len(lists)], replies[at + len(lists) : at + 2 * len(lists)]
    at += 2 * len(lists)
    depths = {
        queue: sum(int(n) for n in lengths[i * PER_QUEUE : (i + 1) * PER_QUEUE])
        for i, queue in enumerate(QUEUES)
    }
    breakers: dict[str, dict[str, str]] = {}
    in_flight: dict[str, int] = {}
    for backend in backends:
        breakers[backend.name] = replies[at]
        in_flight[backend.name] = sum(1 for _, expiry in replies[at + 1] if expiry > redis_now)
        at += 2
    roles = live_roles(replies[at])
    oldest = await _oldest_ages(state, heads)
    registry = CollectorRegistry()
    registry.register(
        Snapshot(
            stats,
            hist,
            depths,
            oldest,
            backends,
            in_flight,
            breakers,
            roles,
            int(replies[at + 1]),
        )
    )
    registry.register(await batch_collector(state.redis, stats))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _oldest_ages(state: StateDep, heads: Sequence[str | None]) -> dict[str, float]:
    """Per queue, the age of its oldest next-in-line job (see laneway/queue_age.py)."""
    found = queued_jobs(QUEUES, PER_QUEUE, heads)
    if not found:
        return {}
    async with state.redis.pipeline(transaction=False) as pipe:
        for _, job_id in found:
            pipe.hmget(keys.job(job_id), *RECORD_FIELDS)
        records = await pipe.execute()
    return oldest_ages(found, records, time.time())
