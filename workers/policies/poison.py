"""A message delivered too often without finishing is poison: dead-lettered."""

from __future__ import annotations

from workers.policies.decisions import DeadLetter, Decision, Delivery, Outcome, OutcomeKind


class PoisonPolicy:
    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind is not OutcomeKind.POISON:
            return None
        return DeadLetter(
            f"poison: delivered {outcome.deliveries} times without finishing", "poison"
        )
