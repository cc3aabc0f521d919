"""A prompt too long for the lane's backends moves to a lane with a larger context
window, or fails when none has one."""

from __future__ import annotations

from collections.abc import Sequence

from laneway.lanes import LANES, Lane
from laneway.settings import Settings
from workers.policies.decisions import Decision, Delivery, Fail, Move, Outcome, OutcomeKind


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


class ContextPolicy:
    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind is not OutcomeKind.CONTEXT_LENGTH:
            return None
        target = larger_context_lane(
            delivery.settings, delivery.lane, outcome.context_needed, delivery.visited
        )
        if target is None:
            return Fail(outcome.error, outcome.kind.value)
        return Move(target, f"context too long for {delivery.lane}: {outcome.error}")
