"""Past its deadline a job is dead-lettered (``deadline_exceeded``), no backend called."""

from __future__ import annotations

from workers.policies.decisions import DeadLetter, Decision, Delivery, Outcome, OutcomeKind

DEADLINE_EXCEEDED = "deadline_exceeded"


def deadline_passed(delivery: Delivery) -> DeadLetter:
    late = delivery.now - delivery.deadline
    error = f"the job's deadline passed {late:.1f}s ago before a backend answered"
    return DeadLetter(error, DEADLINE_EXCEEDED)


class DeadlinePolicy:
    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        return deadline_passed(delivery) if outcome.kind is OutcomeKind.DEADLINE else None
