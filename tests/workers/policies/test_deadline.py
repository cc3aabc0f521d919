from __future__ import annotations

from tests.workers.policies.helpers import NOW, delivery
from workers.policies import DeadLetter, Outcome, OutcomeKind
from workers.policies.deadline import DEADLINE_EXCEEDED, DeadlinePolicy


def test_a_passed_deadline_dead_letters_the_job_saying_how_late() -> None:
    decision = DeadlinePolicy().decide(Outcome(OutcomeKind.DEADLINE), delivery(deadline=NOW - 1.25))
    assert decision == DeadLetter(
        "the job's deadline passed 1.2s ago before a backend answered", DEADLINE_EXCEEDED
    )
    assert DeadlinePolicy().decide(Outcome(OutcomeKind.RETRYABLE), delivery()) is None
