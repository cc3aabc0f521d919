"""Fault injection: errors, rate limits, hangs and a global "down" switch."""

from __future__ import annotations

import enum
import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FaultSettings(BaseModel):
    """Fault knobs; settable on the command line and through ``POST /admin/faults``."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="fraction answered 500")
    rate_limit_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="fraction answered 429 with Retry-After: 1"
    )
    hang_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="fraction that sleep hang_seconds first"
    )
    hang_seconds: float = Field(default=3600.0, ge=0.0)
    down: bool = Field(default=False, description="answer every request with 503")
    sparse: bool = Field(
        default=False,
        description="leave out id, created, system_fingerprint, logprobs and null "
        "finish_reason/usage, as some servers do (laneway must fill them in)",
    )
    seed: int = Field(default=0, description="seed of the fault draws")


class Fault(enum.Enum):
    NONE = "none"
    ERROR = "error"
    RATE_LIMIT = "rate_limit"
    HANG = "hang"


class FaultInjector:
    """Draws one fault per request from a seeded PRNG.

    The PRNG is re-seeded whenever the settings change, so "set faults, then send N
    requests" yields the same fault sequence every time.
    """

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)

    def update(self, patch: dict[str, Any]) -> FaultSettings:
        """Merge ``patch`` into the settings; raises ``pydantic.ValidationError``."""
        self.settings = FaultSettings.model_validate({**self.settings.model_dump(), **patch})
        self._rng = random.Random(self.settings.seed)
        return self.settings

    def draw(self) -> Fault:
        s = self.settings
        total = s.error_rate + s.rate_limit_rate + s.hang_rate
        if total <= 0.0:
            return Fault.NONE  # keep the draw sequence independent of fault-free traffic
        r = self._rng.random()
        if r < s.error_rate:
            return Fault.ERROR
        if r < s.error_rate + s.rate_limit_rate:
            return Fault.RATE_LIMIT
        if r < total:
            return Fault.HANG
        return Fault.NONE
