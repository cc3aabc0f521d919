"""Peak EWMA (Finagle's, linkerd's): each backend's latency as a moving average that
jumps up at once on a slow call and decays over ``ewma_decay_seconds``; the backend
with the least ``ewma × (in flight + 1)`` with room is taken. The averages live in
Redis, updated by every worker on each success (sent with the job's final write)."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from laneway import keys
from laneway.settings import BackendConfig
from laneway.store import script_source
from workers.selection.plan import JobFacts, Observation, Plan


class PeakEwma:
    needs_job = False

    def __init__(self, decay_seconds: float) -> None:
        self._decay = decay_seconds

    def plan(self, pool: Sequence[BackendConfig], job: JobFacts | None) -> Plan:
        return Plan(pool, "ewma", keys.LATENCY_EWMA)

    def observe(self, backend: BackendConfig, latency_ms: float) -> Observation | None:
        args = (backend.name, f"{latency_ms:.3f}", self._decay)

        def update(pipe: redis.client.Pipeline) -> object:
            # EVAL, not EVALSHA: a pipeline reports no NOSCRIPT it could retry
            return pipe.eval(script_source("ewma"), 1, keys.LATENCY_EWMA, *args)

        return update


def cost(ewma_ms: float, in_flight: int) -> float:
    """What the take script minimises (the Python twin, for tests and docs)."""
    return ewma_ms * (in_flight + 1)
