"""Power of two choices: two backends with room at random, the less loaded (in flight
per unit of weight, fleet-wide) of the two. Nearly as even as least-in-flight, without
every worker piling onto the same least-loaded backend between two counts."""

from __future__ import annotations

from collections.abc import Sequence

from laneway.settings import BackendConfig
from workers.selection.plan import JobFacts, Observation, Plan


class PowerOfTwoChoices:
    needs_job = False

    def plan(self, pool: Sequence[BackendConfig], job: JobFacts | None) -> Plan:
        return Plan(pool, "p2c")

    def observe(self, backend: BackendConfig, latency_ms: float) -> Observation | None:
        return None
