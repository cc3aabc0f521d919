from __future__ import annotations

from tests.workers.policies.helpers import delivery
from workers.policies import Fail, Outcome, OutcomeKind
from workers.policies.rejected import RejectedPolicy


def test_a_rejected_request_fails_with_the_backends_message_and_param() -> None:
    outcome = Outcome(OutcomeKind.FATAL, "HTTP 400: bad temperature", param="temperature")
    assert RejectedPolicy().decide(outcome, delivery()) == Fail(
        "HTTP 400: bad temperature", "fatal", "temperature"
    )
    assert RejectedPolicy().decide(Outcome(OutcomeKind.RETRYABLE), delivery()) is None
