"""Backpressure: how deep each queue may get, and where a job goes when its lane is full.

Depths are checked inside the Lua scripts that push (``create.lua``, ``route.lua``),
over every priority sub-list of a queue, so that no two pushes can both take the
last place.
"""

from __future__ import annotations

from laneway.lanes import CLASSIFY_QUEUE, LANES, Lane, queue_for
from laneway.settings import Settings


def queue_limits(settings: Settings) -> dict[str, int]:
    """``max_queue_depth`` of every queue, by queue name."""
    return {CLASSIFY_QUEUE: settings.classifier.max_queue_depth} | {
        queue_for(lane): config.max_queue_depth for lane, config in settings.lanes.items()
    }


def _served(settings: Settings) -> list[Lane]:
    """Lanes with backends (every lane when none has any: jobs then just wait)."""
    served = [lane for lane in LANES if settings.lanes[lane].backends]
    return served or list(LANES)


def placeable_lanes(settings: Settings) -> list[Lane]:
    """The lanes a job the classifier has yet to place may end up in."""
    return _served(settings)


def spill_order(settings: Settings, lane: Lane) -> list[Lane]:
    """``lane``, then the lanes its fallback chain reaches (breadth first, each chain
    in its order) that have backends: where a job goes when the lanes before are full."""
    reached = [lane]
    for current in reached:
        for candidate in settings.lanes[current].fallback_chain:
            if candidate not in reached:
                reached.append(candidate)
    served = _served(settings)
    return [lane] + [candidate for candidate in reached[1:] if candidate in served]
