from __future__ import annotations

from tests.workers.policies.helpers import delivery
from workers.policies import Fail, Outcome, OutcomeKind
from workers.policies.stream import StreamPolicy


def test_a_stream_lost_with_its_worker_fails_the_job() -> None:
    decision = StreamPolicy().decide(Outcome(OutcomeKind.STREAM_LOST), delivery())
    assert decision == Fail("the worker streaming this job died mid-stream", "lost")


def test_an_error_after_output_fails_instead_of_retrying() -> None:
    error = Outcome(OutcomeKind.RETRYABLE, "timeout")
    assert StreamPolicy().decide(error, delivery(streamed_output=True)) == Fail(
        "the stream broke after output: timeout", "retryable"
    )
    assert StreamPolicy().decide(error, delivery(streamed_output=False)) is None
