"""Lane names and the Celery queue names derived from them."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal, get_args

Lane = Literal["fast-path", "general", "high-compute"]
LANES: tuple[Lane, ...] = get_args(Lane)

FAST_PATH: Lane = "fast-path"
GENERAL: Lane = "general"
HIGH_COMPUTE: Lane = "high-compute"

QUEUE_PREFIX = "laneway."
CLASSIFY_QUEUE = "laneway.classify"


def queue_for(lane: Lane) -> str:
    return f"{QUEUE_PREFIX}{lane}"


def parse_lane(value: str) -> Lane:
    """Return ``value`` as a lane name, or raise ``ValueError`` naming the valid ones."""
    for lane in LANES:
        if value == lane:
            return lane
    raise ValueError(f"unknown lane {value!r}; expected one of {', '.join(LANES)}")


def nearest_lane(lane: Lane, allowed: Collection[Lane]) -> Lane:
    """The lane of ``allowed`` closest to ``lane`` in the order fast-path, general,
    high-compute; between two as close, the larger one (it can answer more)."""
    rank = LANES.index(lane)
    return min(allowed, key=lambda c: (abs(LANES.index(c) - rank), -LANES.index(c)))


def excluded_lanes(allowed: Collection[Lane]) -> list[Lane]:
    """The lanes outside ``allowed``. A lane task counts them as already tried (its
    ``visited``), so that no fallback takes the job there."""
    return [lane for lane in LANES if lane not in allowed]
