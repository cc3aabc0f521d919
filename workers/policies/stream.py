"""A streamed answer is never started twice: a client may already have shown its
tokens, and a second answer would be appended to the first."""

from __future__ import annotations

from workers.policies.decisions import (
    BACKEND_ERRORS,
    Decision,
    Delivery,
    Fail,
    Outcome,
    OutcomeKind,
)


class StreamPolicy:
    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind is OutcomeKind.STREAM_LOST:
            return Fail("the worker streaming this job died mid-stream", "lost")
        if outcome.kind in BACKEND_ERRORS and delivery.streamed_output:
            return Fail(f"the stream broke after output: {outcome.error}", outcome.kind.value)
        return None
