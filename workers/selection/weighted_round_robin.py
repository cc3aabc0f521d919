"""Smooth weighted round-robin (nginx's): each pick adds every backend's weight to its
current weight, takes the highest and takes the total off it, so over any run of calls
each backend gets its share of the weights, evenly spread. The current weights live in
Redis, shared by every worker of the lane; a full backend is skipped, not owed."""

from __future__ import annotations

from collections.abc import Sequence

from laneway import keys
from laneway.lanes import Lane
from laneway.settings import BackendConfig
from workers.selection.plan import JobFacts, Observation, Plan


class WeightedRoundRobin:
    needs_job = False

    def __init__(self, lane: Lane) -> None:
        self._state = keys.rotation(lane)

    def plan(self, pool: Sequence[BackendConfig], job: JobFacts | None) -> Plan:
        return Plan(pool, "wrr", self._state)

    def observe(self, backend: BackendConfig, latency_ms: float) -> Observation | None:
        return None


def smooth_rotation(weights: dict[str, float], picks: int) -> list[str]:
    """The picks the take script makes over ``weights`` when every backend has room
    (the same arithmetic, in Python, for the unit tests and the docs)."""
    current = dict.fromkeys(weights, 0.0)
    total = sum(weights.values())
    chosen = []
    for _ in range(picks):
        for name, weight in weights.items():
            current[name] += weight
        best = max(current, key=lambda name: current[name])
        current[best] -= total
        chosen.append(best)
    return chosen
