"""Every backend of the lane cooling down (breakers open): a fallback lane that has a
backend up takes the job, else it waits in this lane's queue until the first breaker
may be probed (at most ``max_defer_seconds`` at a time), up to its deadline."""

from __future__ import annotations

from workers.policies.decisions import (
    DeadLetter,
    Decision,
    Defer,
    Delivery,
    Move,
    Outcome,
    OutcomeKind,
)
from workers.policies.fallback import fallback_lane

SHORTEST_DEFER_SECONDS = 0.5


class BreakerPolicy:
    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind is not OutcomeKind.BREAKER_OPEN:
            return None
        lane = delivery.lane
        target = fallback_lane(delivery.settings, lane, [*delivery.visited, lane])
        if target is not None and delivery.lane_up(target):
            return Move(target, f"every backend of {lane} is cooling down")
        wait = min(
            max(SHORTEST_DEFER_SECONDS, outcome.retry_in), delivery.settings.retry.max_defer_seconds
        )
        if delivery.now + wait >= delivery.deadline:
            return DeadLetter("every backend that could serve the job stayed down")
        return Defer(wait, f"waiting {wait:.1f}s: every backend of {lane} is cooling down")
