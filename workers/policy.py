"""Retry timing and where a job goes when its lane cannot answer."""

from __future__ import annotations

import random
from collections.abc import Sequence

from laneway.lanes import LANES, Lane
from laneway.settings import RetryConfig, Settings


def backoff(config: RetryConfig, failures: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter; a backend's Retry-After is a floor."""
    ceiling = min(
        config.backoff_max_seconds, config.backoff_base_seconds * 2 ** max(0, failures - 1)
    )
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def fallback_lane(settings: Settings, lane: Lane, visited: Sequence[str]) -> Lane | None:
    """The first lane of ``lane``'s fallback chain not tried yet that has backends."""
    for candidate in settings.lanes[lane].fallback_chain:
        if candidate not in visited and candidate != lane and settings.lanes[candidate].backends:
            return candidate
    return None


def larger_context_lane(
    settings: Settings, lane: Lane, tokens_needed: int, visited: Sequence[str]
) -> Lane | None:
    """A lane with a backend whose context window holds ``tokens_needed`` (prompt plus
    output budget) and is larger than any of ``lane``'s: a move only ever goes to a
    larger window. The fallback chain is preferred, then the smallest sufficient window."""
    current = max((b.context_window for b in settings.lanes[lane].backends), default=0)

    def fits(candidate: Lane) -> int | None:
        windows = [
            b.context_window
            for b in settings.lanes[candidate].backends
            if b.context_window >= tokens_needed and b.context_window > current
        ]
        return min(windows) if windows else None

    for candidate in settings.lanes[lane].fallback_chain:
        if candidate not in visited and candidate != lane and fits(candidate):
            return candidate
    others = [(fits(c), c) for c in LANES if c != lane and c not in visited and fits(c)]
    return min(others)[1] if others else None
