from __future__ import annotations

from tests.workers.policies.helpers import delivery, fleet
from workers.policies import Fail, Move, Outcome, OutcomeKind
from workers.policies.context import ContextPolicy, larger_context_lane


def too_long(needed: int) -> Outcome:
    return Outcome(OutcomeKind.CONTEXT_LENGTH, "too long", context_needed=needed)


def test_a_long_prompt_moves_to_the_smallest_larger_window_that_holds_it() -> None:
    assert ContextPolicy().decide(too_long(10_000), delivery("fast-path")) == Move(
        "general", "context too long for fast-path: too long"
    )
    # the fallback chain (general) is too small: the lane beyond it
    assert larger_context_lane(fleet(), "fast-path", 30_000, []) == "high-compute"


def test_a_move_never_goes_to_a_smaller_or_visited_lane() -> None:
    assert larger_context_lane(fleet(), "high-compute", 10_000, []) is None
    assert larger_context_lane(fleet(), "fast-path", 10_000, ["general"]) == "high-compute"


def test_no_lane_large_enough_fails_the_job_with_the_backends_message() -> None:
    decision = ContextPolicy().decide(too_long(100_000), delivery("fast-path"))
    assert decision == Fail("too long", "context_length")
