"""A retryable error (connect error, timeout, 5xx, 429) is retried on the lane after a
backoff, up to ``max_attempts_per_lane`` calls and while the deadline and the delivery's
time allow; after that it is the fallback policy's."""

from __future__ import annotations

import random
from collections.abc import Callable

from laneway.settings import RetryConfig
from workers.policies.decisions import Decision, Delivery, Outcome, OutcomeKind, Retry

Uniform = Callable[[float, float], float]


def backoff(
    config: RetryConfig,
    failures: int,
    retry_after: float | None,
    uniform: Uniform = random.uniform,
) -> float:
    """Exponential backoff with full jitter; a backend's Retry-After is a floor."""
    ceiling = min(
        config.backoff_max_seconds, config.backoff_base_seconds * 2 ** max(0, failures - 1)
    )
    delay = uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


class RetryPolicy:
    def __init__(self, uniform: Uniform = random.uniform) -> None:
        self._uniform = uniform

    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        if outcome.kind is not OutcomeKind.RETRYABLE:
            return None
        config = delivery.settings.retry
        if delivery.failures >= config.max_attempts_per_lane or not outcome.healthy_left:
            return None
        delay = backoff(config, delivery.failures, outcome.retry_after, self._uniform)
        if delivery.now + delay >= delivery.deadline or delay >= delivery.delivery_left:
            return None
        return Retry(delay)
