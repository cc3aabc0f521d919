"""Lane spillover, the decision: which waiting job may run in which other lane.

A lane whose ``spillover`` is configured names the lanes its waiting jobs may run in
instead. A job moves when it has waited ``after_seconds`` in its lane's queue, or,
with ``max_confidence`` set, when the classifier placed it with at most that
confidence and it has waited ``low_confidence_after_seconds``; and only to a lane
with room: free call slots on backends whose breaker is not open, beyond the jobs
already queued there, and a live worker to take it. No Redis here (see
workers/spill_mover.py for the moving).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from laneway.lanes import Lane
from laneway.settings import Settings, SpilloverConfig

FORCED_STRATEGY = "route"
"""``strategy`` of a job whose client forced its lane: it never moves."""


@dataclass(frozen=True, slots=True)
class WaitingJob:
    """What the decision needs to know of a job waiting in a lane's queue."""

    lane: Lane
    status: str
    waited: float
    """Seconds since its message joined the queue."""
    strategy: str = ""
    confidence: float | None = None
    spilled: bool = False
    """It moved once already."""
    visited: Collection[str] = ()
    """Lanes it may not go to: tried already, or outside its API key."""


@dataclass(frozen=True, slots=True)
class LaneRoom:
    """A lane's capacity now, fleet-wide."""

    free_slots: int
    """Calls its backends whose breaker is not open could take on top of those running."""
    queued: int
    """Messages waiting in its queue (every priority sub-list)."""
    workers: int
    """Live workers consuming it."""
    context_window: int = 0
    """The largest context window among those backends."""

    @property
    def room(self) -> int:
        """Jobs it can start at once beyond those already waiting: 0 when none."""
        if self.workers <= 0:
            return 0
        return max(0, self.free_slots - self.queued)


@dataclass(frozen=True, slots=True)
class Due:
    """Why a job may leave its lane (before a lane with room is chosen)."""

    waited: float
    confidence: float | None = None
    """Set when low confidence is the reason."""


def due(rule: SpilloverConfig, job: WaitingJob) -> Due | None:
    """Whether ``job`` may leave its lane under ``rule`` (it still needs a lane with room)."""
    if job.status != "routed" or job.spilled or job.strategy == FORCED_STRATEGY:
        return None
    if rule.after_seconds is not None and job.waited >= rule.after_seconds:
        return Due(job.waited)
    if (
        rule.max_confidence is not None
        and job.confidence is not None
        and job.confidence <= rule.max_confidence
        and job.waited >= rule.low_confidence_after_seconds
    ):
        return Due(job.waited, job.confidence)
    return None


def target_lane(
    settings: Settings,
    job: WaitingJob,
    rooms: Mapping[Lane, LaneRoom],
    context_needed: int | None = None,
) -> Lane | None:
    """The first lane of the job's lane's ``spillover.to`` that it may go to and that
    has room now (``context_needed``: tokens its prompt and output budget take, when
    known; a lane whose largest window is smaller is skipped)."""
    rule = settings.lanes[job.lane].spillover
    if rule is None:
        return None
    for lane in rule.to:
        room = rooms.get(lane)
        if lane == job.lane or lane in job.visited or room is None or room.room <= 0:
            continue
        if context_needed is not None and room.context_window < context_needed:
            continue
        return lane
    return None


def reason(source: Lane, target: Lane, why: Due, rule: SpilloverConfig) -> str:
    """What the job record says about the move."""
    waited = f"waited {why.waited:.1f}s in {source}"
    if why.confidence is not None:
        limit = rule.max_confidence
        waited += f" with classifier confidence {why.confidence:g} (at most {limit:g})"
    return f"spillover: {waited}, {target} had free slots"


def spilling_lanes(settings: Settings) -> dict[Lane, SpilloverConfig]:
    """The lanes with spillover configured (none by default)."""
    return {
        lane: config.spillover
        for lane, config in settings.lanes.items()
        if config.spillover is not None
    }
