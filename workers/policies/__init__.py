"""What a lane worker does when a delivery of a job reaches an outcome.

In the spirit of dramatiq's middleware, but deciding instead of acting: the runner
(workers/runner.py) reports each outcome of a delivery — a retryable, fatal or
context-length error from a backend, every backend cooling down (breakers open),
every backend full, the deadline passed, too many deliveries, a stream lost — and
asks the lane's policies in order; the first that answers decides what happens:
:class:`Retry` on the lane, :class:`Move` to another lane, :class:`Defer` (back to
the lane's queue with a countdown), :class:`Fail` or :class:`DeadLetter`. Policies
are pure: they read an :class:`Outcome` and the :class:`Delivery` and return a
decision; the runner does the Redis writes (with their owner guards).
"""

from __future__ import annotations

from collections.abc import Sequence

from workers.policies.breaker import BreakerPolicy
from workers.policies.capacity import CapacityPolicy
from workers.policies.context import ContextPolicy
from workers.policies.deadline import DeadlinePolicy
from workers.policies.decisions import (
    DeadLetter,
    Decision,
    Defer,
    Delivery,
    Fail,
    Move,
    Outcome,
    OutcomeKind,
    Policy,
    Retry,
)
from workers.policies.fallback import FallbackPolicy
from workers.policies.poison import PoisonPolicy
from workers.policies.rejected import RejectedPolicy
from workers.policies.retry import RetryPolicy
from workers.policies.stream import StreamPolicy

DEFAULT_POLICIES: tuple[Policy, ...] = (
    DeadlinePolicy(),
    PoisonPolicy(),
    StreamPolicy(),
    RejectedPolicy(),
    ContextPolicy(),
    BreakerPolicy(),
    CapacityPolicy(),
    RetryPolicy(),
    FallbackPolicy(),
)
"""The order of today's lane worker: a stream that already showed output fails before
anything is retried, and a retryable error falls back only once retrying is over."""


def decide(
    outcome: Outcome, delivery: Delivery, policies: Sequence[Policy] = DEFAULT_POLICIES
) -> Decision:
    """The first decision a policy takes on ``outcome``; an outcome no policy answers
    is a bug in the chain, and the job is dead-lettered rather than left running."""
    for policy in policies:
        decision = policy.decide(outcome, delivery)
        if decision is not None:
            return decision
    return DeadLetter(f"no policy decided on {outcome.kind}: {outcome.error}", "internal_error")


__all__ = [
    "DEFAULT_POLICIES",
    "DeadLetter",
    "Decision",
    "Defer",
    "Delivery",
    "Fail",
    "Move",
    "Outcome",
    "OutcomeKind",
    "Policy",
    "Retry",
    "decide",
]
