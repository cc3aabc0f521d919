"""What a selection strategy hands the slot-take script: the candidates in order and
how the script chooses among those with a free slot."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import redis

from laneway.settings import BackendConfig

Mode = Literal["least", "ordered", "p2c", "wrr", "ewma"]
"""See laneway/lua/slot_take.lua."""


@dataclass(frozen=True, slots=True)
class Plan:
    backends: Sequence[BackendConfig]
    mode: Mode = "least"
    state_key: str | None = None
    """The Redis hash of the strategy's fleet-wide state (modes ``wrr`` and ``ewma``)."""


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What a strategy may know of the job beyond its lane: read from the job's record
    before choosing, only for strategies that need it (one Redis round trip)."""

    request: Mapping[str, Any] = field(default_factory=dict)
    tenant: str = ""


Observation = Callable[[redis.client.Pipeline], object]


class Selection(Protocol):
    needs_job: bool
    """:meth:`plan` reads :class:`JobFacts` (the runner fetches them first)."""

    def plan(self, pool: Sequence[BackendConfig], job: JobFacts | None) -> Plan:
        """How to choose among ``pool`` (the lane's backends that may take calls)."""

    def observe(self, backend: BackendConfig, latency_ms: float) -> Observation | None:
        """What a successful call's latency adds to the shared state, as a command for
        the pipeline of the job's final write (None: nothing)."""
