"""A backend that rejects the request (a 4xx other than 408/429) fails the job with its
message: another backend would reject it too."""

from __future__ import annotations

from workers.policies.decisions import Decision, Delivery, Fail, Outcome, OutcomeKind


class RejectedPolicy:
    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind is not OutcomeKind.FATAL:
            return None
        return Fail(outcome.error, outcome.kind.value, outcome.param)
