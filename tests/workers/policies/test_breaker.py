from __future__ import annotations

from laneway.settings import RetryConfig
from tests.workers.policies.helpers import NOW, delivery
from workers.policies import DeadLetter, Defer, Move, Outcome, OutcomeKind
from workers.policies.breaker import BreakerPolicy

MAX_DEFER = RetryConfig().max_defer_seconds


def test_a_cooling_lane_hands_the_job_to_a_fallback_with_a_backend_up() -> None:
    decision = BreakerPolicy().decide(Outcome(OutcomeKind.BREAKER_OPEN), delivery("fast-path"))
    assert decision == Move("general", "every backend of fast-path is cooling down")


def test_with_the_fallback_down_too_the_job_waits_for_the_first_probe() -> None:
    down = delivery("fast-path", lane_up=lambda lane: False)
    policy = BreakerPolicy()
    assert policy.decide(Outcome(OutcomeKind.BREAKER_OPEN, retry_in=4.0), down) == Defer(
        4.0, "waiting 4.0s: every backend of fast-path is cooling down"
    )
    assert policy.decide(Outcome(OutcomeKind.BREAKER_OPEN, retry_in=0.0), down) == Defer(
        0.5, "waiting 0.5s: every backend of fast-path is cooling down"
    )
    waited = policy.decide(Outcome(OutcomeKind.BREAKER_OPEN, retry_in=1e6), down)
    assert isinstance(waited, Defer) and waited.countdown == MAX_DEFER


def test_a_wait_past_the_deadline_dead_letters_the_job() -> None:
    down = delivery("fast-path", lane_up=lambda lane: False, deadline=NOW + 3)
    decision = BreakerPolicy().decide(Outcome(OutcomeKind.BREAKER_OPEN, retry_in=4.0), down)
    assert decision == DeadLetter("every backend that could serve the job stayed down")
