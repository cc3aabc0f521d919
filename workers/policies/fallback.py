"""A lane that cannot answer hands the job to the next lane of its fallback chain not
tried yet; when none is left the job is dead-lettered."""

from __future__ import annotations

from collections.abc import Sequence

from laneway.lanes import Lane
from laneway.settings import Settings
from workers.policies.deadline import deadline_passed
from workers.policies.decisions import DeadLetter, Decision, Delivery, Move, Outcome, OutcomeKind


def fallback_lane(settings: Settings, lane: Lane, visited: Sequence[str]) -> Lane | None:
    """The first lane of ``lane``'s fallback chain not tried yet that has backends."""
    for candidate in settings.lanes[lane].fallback_chain:
        if candidate not in visited and candidate != lane and settings.lanes[candidate].backends:
            return candidate
    return None


def fall_back(delivery: Delivery, error: str) -> Decision:
    if delivery.now >= delivery.deadline:
        return deadline_passed(delivery)
    visited = [*delivery.visited, delivery.lane]
    target = fallback_lane(delivery.settings, delivery.lane, visited)
    if target is not None:
        return Move(target, f"fallback from {delivery.lane}: {error}")
    return DeadLetter(f"no lane could answer (tried {', '.join(visited)}): {error}")


class FallbackPolicy:
    """Takes the retryable errors the retry policy gave up on, and lanes without backends."""

    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind in (OutcomeKind.RETRYABLE, OutcomeKind.NO_BACKENDS):
            return fall_back(delivery, outcome.error)
        return None
