"""The default chain, policy by policy in its order (workers/policies/__init__.py)."""

from __future__ import annotations

from tests.workers.policies.helpers import delivery
from workers.policies import DeadLetter, Fail, Move, Outcome, OutcomeKind, Retry, decide


def test_a_retryable_error_is_retried_then_falls_back() -> None:
    error = Outcome(OutcomeKind.RETRYABLE, "HTTP 503")
    assert isinstance(decide(error, delivery(failures=1)), Retry)
    assert decide(error, delivery(failures=3)) == Move(
        "general", "fallback from fast-path: HTTP 503"
    )


def test_a_stream_with_output_fails_before_any_other_policy_answers() -> None:
    for kind in (OutcomeKind.RETRYABLE, OutcomeKind.CONTEXT_LENGTH, OutcomeKind.FATAL):
        decision = decide(Outcome(kind, "x", context_needed=10_000), delivery(streamed_output=True))
        assert decision == Fail("the stream broke after output: x", kind.value)


def test_every_outcome_gets_a_decision() -> None:
    for kind in OutcomeKind:
        decision = decide(Outcome(kind, "x"), delivery())
        assert not (isinstance(decision, DeadLetter) and decision.kind == "internal_error"), kind
