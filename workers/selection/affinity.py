"""Consistent-hash affinity: jobs with the same key (the tenant, the request's ``user``,
or the start of its text) go to the same backend, so its prompt cache is reused; when
that backend is cooling down or full, to the next one on the ring. The ring is built
from every backend of the lane (not only the healthy ones), so a key's backend does
not change when another backend goes down or comes back."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from functools import cache

from laneway.requests import request_text
from laneway.settings import BackendConfig, BalancingConfig
from workers.selection.plan import JobFacts, Observation, Plan

POINTS_PER_WEIGHT = 64
"""Points per unit of weight on the ring: enough for shares within a few % of weight."""


def point(text: str) -> int:
    # a stable hash: Python's hash() differs between processes
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@cache
def ring(backends: tuple[tuple[str, float], ...]) -> tuple[list[int], list[str]]:
    """The ring of (name, weight) backends: sorted points and whose each one is."""
    points = sorted(
        (point(f"{name}#{i}"), name)
        for name, weight in backends
        for i in range(max(1, round(POINTS_PER_WEIGHT * weight)))
    )
    return [p for p, _ in points], [name for _, name in points]


def ring_order(backends: Sequence[BackendConfig], key: str) -> list[str]:
    """The lane's backend names in the order the ring visits them from ``key``."""
    positions, owners = ring(tuple((b.name, b.weight) for b in backends))
    start = bisect.bisect(positions, point(key))
    order: list[str] = []
    for i in range(len(owners)):
        name = owners[(start + i) % len(owners)]
        if name not in order:
            order.append(name)
            if len(order) == len(backends):
                break
    return order


def affinity_key(config: BalancingConfig, job: JobFacts) -> str:
    match config.affinity_key:
        case "tenant":
            return job.tenant
        case "user":
            user = job.request.get("user")
            return user if isinstance(user, str) else ""
        case "prefix":
            return request_text(job.request)[: config.prefix_chars]


class Affinity:
    needs_job = True

    def __init__(self, config: BalancingConfig, lane_backends: Sequence[BackendConfig]) -> None:
        self._config = config
        self._backends = list(lane_backends)

    def plan(self, pool: Sequence[BackendConfig], job: JobFacts | None) -> Plan:
        key = affinity_key(self._config, job) if job else ""
        if not key:  # nothing to keep together: spread the job as the default does
            return Plan(pool, "least")
        by_name = {b.name: b for b in pool}
        ordered = [by_name[n] for n in ring_order(self._backends, key) if n in by_name]
        # a pool backend not in the lane's config (never today) still gets a chance
        ordered += [b for b in pool if b not in ordered]
        return Plan(ordered, "ordered")

    def observe(self, backend: BackendConfig, latency_ms: float) -> Observation | None:
        return None
