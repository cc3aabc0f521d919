"""Every backend that may take the call is at its ``max_concurrency`` fleet-wide (and
the runner already waited for a slot in its thread): the job goes back to its lane's
queue for a moment — not a failed attempt, and a fresh message, so no delivery counts
against it as poison."""

from __future__ import annotations

import random
from collections.abc import Callable

from workers.policies.deadline import deadline_passed
from workers.policies.decisions import Decision, Defer, Delivery, Outcome, OutcomeKind

SLOT_WAIT_SECONDS = 0.5
"""A job whose lane is still full goes back to its queue for this long (up to twice, at
random, so waiting jobs do not come back in step)."""


class CapacityPolicy:
    def __init__(self, unit: Callable[[], float] = random.random) -> None:
        self._random = unit

    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind is not OutcomeKind.LANE_FULL:
            return None
        wait = SLOT_WAIT_SECONDS * (1 + self._random())
        if delivery.now + wait >= delivery.deadline:
            return deadline_passed(delivery)
        reason = f"waiting {wait:.1f}s: every backend of {delivery.lane} is at its max_concurrency"
        return Defer(wait, reason)
