from __future__ import annotations

from tests.workers.policies.helpers import delivery
from workers.policies import DeadLetter, Outcome, OutcomeKind
from workers.policies.poison import PoisonPolicy


def test_a_message_delivered_too_often_is_dead_lettered_as_poison() -> None:
    decision = PoisonPolicy().decide(Outcome(OutcomeKind.POISON, deliveries=6), delivery())
    assert decision == DeadLetter("poison: delivered 6 times without finishing", "poison")
    assert PoisonPolicy().decide(Outcome(OutcomeKind.DEADLINE), delivery()) is None
