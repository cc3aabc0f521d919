"""``GET /metrics``: Prometheus metrics for the whole system, read from Redis.

Counters are kept by the Lua scripts in one Redis hash, so a single scrape of
any API process sees every worker's work; queue depths, breaker states and
live workers are read at scrape time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import cast

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.batch.records import STATUSES as BATCH_STATUSES
from api.deps import StateDep
from laneway import keys
from laneway.heartbeat import live_roles
from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.wire import queue_keys

router = APIRouter(tags=["metrics"])
QUEUES = (CLASSIFY_QUEUE, *(queue_for(lane) for lane in LANES))


class Snapshot(Collector):
    def __init__(
        self,
        stats: dict[str, str],
        depths: dict[str, int],
        breakers: dict[str, dict[str, str]],
        roles: dict[str, int],
        dead: int,
    ) -> None:
        self.stats = stats
        self.depths = depths
        self.breakers = breakers
        self.roles = roles
        self.dead = dead

    def collect(self) -> Iterator[Metric]:
        submitted = CounterMetricFamily("laneway_jobs_submitted", "Jobs accepted by the API.")
        routed = CounterMetricFamily(
            "laneway_jobs_routed", "Classifier decisions.", labels=["lane", "strategy"]
        )
        finished = CounterMetricFamily(
            "laneway_jobs_finished",
            "Jobs that reached a final state.",
            labels=["status", "lane", "backend"],
        )
        rejected = CounterMetricFamily(
            "laneway_jobs_rejected", "Submits refused because their queue was full."
        )
        cost = CounterMetricFamily(
            "laneway_cost",
            "Cost of answered jobs at the backends' prices per 1k tokens.",
            labels=["lane", "backend"],
        )
        # Unlabelled counters have one sample from the start, zero until counted.
        slot_waits = CounterMetricFamily(
            "laneway_slot_waits",
            "Deliveries that found every backend of their lane at its max_concurrency "
            "(fleet-wide) and waited for a call slot.",
            labels=["lane"],
        )
        submitted.add_metric([], float(self.stats.get("submitted", 0)))
        rejected.add_metric([], float(self.stats.get("rejected", 0)))
        for field, value in self.stats.items():
            kind, *labels = field.split("|")
            if kind == "routed" and len(labels) == 2:
                routed.add_metric(labels, float(value))
            elif kind == "finished" and len(labels) == 3:
                finished.add_metric(labels, float(value))
            elif kind == "cost" and len(labels) == 2:
                cost.add_metric(labels, float(value))
            elif kind == "slot_waits" and len(labels) == 1:
                slot_waits.add_metric(labels, float(value))
        yield from (submitted, rejected, routed, finished, cost, slot_waits)
        dead = CounterMetricFamily(
            "laneway_jobs_dead_lettered", "Jobs sent to the dead-letter store."
        )
        dead.add_metric([], float(self.stats.get("dead_lettered", 0)))
        yield dead
        depth = GaugeMetricFamily(
            "laneway_queue_depth", "Messages waiting in a queue (all priorities).", labels=["queue"]
        )
        for queue, count in self.depths.items():
            depth.add_metric([queue], count)
        yield depth
        waiting = GaugeMetricFamily("laneway_dead_letters", "Entries in the dead-letter store.")
        waiting.add_metric([], self.dead)
        yield waiting
        breaker = GaugeMetricFamily(
            "laneway_backend_breaker_open",
            "1 when a backend's circuit breaker is open.",
            labels=["backend"],
        )
        for name, raw in self.breakers.items():
            breaker.add_metric([name], 1.0 if raw.get("state") == "open" else 0.0)
        yield breaker
        workers = GaugeMetricFamily("laneway_workers", "Live workers per role.", labels=["role"])
        for role in ("classify", *LANES):
            workers.add_metric([role], self.roles.get(role, 0))
        yield workers


class BatchSnapshot(Collector):
    """Batches by status, and their lines by outcome (see api/batch)."""

    def __init__(self, statuses: Iterable[str], stats: dict[str, str]) -> None:
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


async def batch_collector(client: aioredis.Redis, stats: dict[str, str]) -> BatchSnapshot:
    statuses = cast(dict[str, str], await client.hgetall(keys.BATCH_STATUSES))
    return BatchSnapshot(statuses.values(), stats)


@router.get("/metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    backends = [b.name for lane in state.settings.lanes.values() for b in lane.backends]
    async with state.redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.STATS)
        for queue in QUEUES:
            for key in queue_keys(queue):
                pipe.llen(key)
        for name in backends:
            pipe.hgetall(keys.breaker(name))
        pipe.hgetall(keys.WORKER_HEARTBEAT)
        pipe.xlen(keys.DEAD_LETTERS)
        replies = await pipe.execute()
    stats = cast(dict[str, str], replies[0])
    per_queue = len(queue_keys(QUEUES[0]))
    depths = {
        queue: sum(replies[1 + i * per_queue : 1 + (i + 1) * per_queue])
        for i, queue in enumerate(QUEUES)
    }
    offset = 1 + len(QUEUES) * per_queue
    breakers = dict(zip(backends, replies[offset : offset + len(backends)], strict=True))
    roles = live_roles(replies[-2])
    registry = CollectorRegistry()
    registry.register(Snapshot(stats, depths, breakers, roles, int(replies[-1])))
    registry.register(await batch_collector(state.redis, stats))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
