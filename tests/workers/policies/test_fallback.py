from __future__ import annotations

from laneway.settings import LaneConfig
from tests.workers.policies.helpers import NOW, backend, delivery, settings
from workers.policies import DeadLetter, Move, Outcome, OutcomeKind
from workers.policies.deadline import DEADLINE_EXCEEDED
from workers.policies.fallback import FallbackPolicy, fallback_lane

RETRYABLE = Outcome(OutcomeKind.RETRYABLE, "HTTP 503")


def test_a_lane_that_gave_up_hands_the_job_to_its_fallback() -> None:
    decision = FallbackPolicy().decide(RETRYABLE, delivery("fast-path"))
    assert decision == Move("general", "fallback from fast-path: HTTP 503")


def test_lanes_already_tried_are_skipped_and_at_the_end_the_job_is_dead_lettered() -> None:
    decision = FallbackPolicy().decide(RETRYABLE, delivery("high-compute", visited=("general",)))
    assert decision == DeadLetter("no lane could answer (tried general, high-compute): HTTP 503")


def test_a_fallback_lane_without_backends_is_passed_over() -> None:
    config = settings(fast_path=LaneConfig(backends=[backend("s")], fallback=["general"]))
    assert fallback_lane(config, "fast-path", ["fast-path"]) is None
    outcome = Outcome(OutcomeKind.NO_BACKENDS, "lane general has no backends")
    decision = FallbackPolicy().decide(outcome, delivery("general", config))
    assert decision == DeadLetter(
        "no lane could answer (tried general): lane general has no backends"
    )


def test_past_the_deadline_nothing_falls_back() -> None:
    decision = FallbackPolicy().decide(RETRYABLE, delivery(deadline=NOW - 2))
    assert decision == DeadLetter(
        "the job's deadline passed 2.0s ago before a backend answered", DEADLINE_EXCEEDED
    )


def test_only_retryable_errors_and_empty_lanes_are_the_fallback_policys() -> None:
    for kind in set(OutcomeKind) - {OutcomeKind.RETRYABLE, OutcomeKind.NO_BACKENDS}:
        assert FallbackPolicy().decide(Outcome(kind), delivery()) is None
