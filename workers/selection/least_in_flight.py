"""The default: the backend with the fewest calls in flight fleet-wide per unit of
weight; ties at random in proportion to weight."""

from __future__ import annotations

from collections.abc import Sequence

from laneway.settings import BackendConfig
from workers.selection.plan import JobFacts, Observation, Plan


class LeastInFlight:
    needs_job = False

    def plan(self, pool: Sequence[BackendConfig], job: JobFacts | None) -> Plan:
        return Plan(pool, "least")

    def observe(self, backend: BackendConfig, latency_ms: float) -> Observation | None:
        return None
