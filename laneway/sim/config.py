"""Start-up configuration of one simulated backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from laneway.sim.faults import FaultSettings
from laneway.sim.profiles import Profile


@dataclass(frozen=True, slots=True)
class SimConfig:
    profile: Profile
    name: str
    """Shown in the ``x-sim-backend`` header and ``system_fingerprint``."""
    alias: str | None = None
    """Extra model name the backend answers to, besides ``profile.model``."""
    faults: FaultSettings = field(default_factory=FaultSettings)
    max_concurrency: int = 0
    """Slots: requests beyond this many wait for one, first come first served; 0 = unlimited."""
    batch_slowdown: float = 0.0
    """How much each extra active request slows the others (see ``laneway.sim.engine``);
    0 keeps every request at the profile's speed however many run."""

    @property
    def models(self) -> tuple[str, ...]:
        if self.alias and self.alias != self.profile.model:
            return (self.profile.model, self.alias)
        return (self.profile.model,)
