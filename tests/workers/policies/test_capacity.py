from __future__ import annotations

from tests.workers.policies.helpers import NOW, delivery
from workers.policies import DeadLetter, Defer, Outcome, OutcomeKind
from workers.policies.capacity import SLOT_WAIT_SECONDS, CapacityPolicy
from workers.policies.deadline import DEADLINE_EXCEEDED

FULL = Outcome(OutcomeKind.LANE_FULL)


def test_a_full_lane_sends_the_job_back_to_its_queue_for_a_jittered_moment() -> None:
    assert CapacityPolicy(lambda: 0.0).decide(FULL, delivery("general")) == Defer(
        SLOT_WAIT_SECONDS, "waiting 0.5s: every backend of general is at its max_concurrency"
    )
    late = CapacityPolicy(lambda: 0.99).decide(FULL, delivery("general"))
    assert isinstance(late, Defer) and late.countdown < 2 * SLOT_WAIT_SECONDS


def test_a_wait_past_the_deadline_is_a_deadline_exceeded() -> None:
    decision = CapacityPolicy(lambda: 0.0).decide(FULL, delivery(deadline=NOW + 0.2))
    assert isinstance(decision, DeadLetter) and decision.kind == DEADLINE_EXCEEDED
