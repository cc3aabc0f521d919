from __future__ import annotations

from laneway.settings import RetryConfig
from tests.workers.policies.helpers import NOW, delivery
from workers.policies import Outcome, OutcomeKind, Retry
from workers.policies.retry import RetryPolicy, backoff

CEILING = RetryConfig().backoff_base_seconds


def highest(low: float, high: float) -> float:
    return high


def test_backoff_doubles_per_failure_up_to_its_ceiling() -> None:
    config = RetryConfig(backoff_base_seconds=0.2, backoff_max_seconds=1.0)
    assert [backoff(config, n, None, highest) for n in (1, 2, 3, 4)] == [0.2, 0.4, 0.8, 1.0]
    assert backoff(config, 1, None, lambda low, high: low) == 0.1  # full jitter: down to half


def test_a_backends_retry_after_is_a_floor() -> None:
    config = RetryConfig(backoff_base_seconds=0.2)
    assert backoff(config, 1, 3.0, highest) == 3.0
    assert backoff(config, 1, 0.01, highest) == 0.2


def test_a_retryable_error_is_retried_while_attempts_are_left() -> None:
    policy = RetryPolicy(highest)
    outcome = Outcome(OutcomeKind.RETRYABLE, "HTTP 503")
    assert policy.decide(outcome, delivery(failures=1)) == Retry(CEILING)
    assert policy.decide(outcome, delivery(failures=3)) is None  # max_attempts_per_lane


def test_no_retry_without_a_healthy_backend_or_time_left() -> None:
    policy = RetryPolicy(highest)
    outcome = Outcome(OutcomeKind.RETRYABLE, "HTTP 503")
    assert policy.decide(Outcome(OutcomeKind.RETRYABLE, healthy_left=False), delivery()) is None
    assert policy.decide(outcome, delivery(failures=1, deadline=NOW + CEILING)) is None
    assert policy.decide(outcome, delivery(failures=1, delivery_left=CEILING)) is None


def test_other_outcomes_are_not_the_retry_policys() -> None:
    for kind in OutcomeKind:
        if kind is not OutcomeKind.RETRYABLE:
            assert RetryPolicy().decide(Outcome(kind), delivery()) is None
