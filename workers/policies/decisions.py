"""The vocabulary shared by the runner and the policies: outcomes in, decisions out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from laneway.lanes import Lane
from laneway.settings import Settings


class OutcomeKind(StrEnum):
    # a backend call's errors (the values are the jobs' ``error_type``s)
    RETRYABLE = "retryable"
    FATAL = "fatal"
    CONTEXT_LENGTH = "context_length"
    # no call could be made
    BREAKER_OPEN = "breaker_open"
    """Every backend of the lane is cooling down."""
    LANE_FULL = "lane_full"
    """Every backend that may take calls is at its ``max_concurrency``, fleet-wide."""
    NO_BACKENDS = "no_backends"
    # the job itself
    DEADLINE = "deadline"
    POISON = "poison"
    STREAM_LOST = "stream_lost"
    """An earlier delivery streamed part of an answer, then its worker died."""


BACKEND_ERRORS = frozenset({OutcomeKind.RETRYABLE, OutcomeKind.FATAL, OutcomeKind.CONTEXT_LENGTH})


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    error: str = ""
    param: str | None = None
    """The request field a backend's error named."""
    retry_after: float | None = None
    """A backend's Retry-After, in seconds."""
    healthy_left: bool = True
    """After a retryable error: the lane still has a backend that may take calls."""
    retry_in: float = 0.0
    """Every breaker open: seconds until the first may be probed."""
    context_needed: int = 0
    """Tokens of context the request needs (prompt plus output budget)."""
    deliveries: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a policy knows of the delivery it decides for."""

    lane: Lane
    settings: Settings
    now: float
    """Wall clock (``time.time()``) when the outcome was reported."""
    deadline: float
    """The job's deadline, wall clock."""
    delivery_left: float = float("inf")
    """Seconds before this delivery must end (Redis would hand its message on)."""
    visited: tuple[str, ...] = ()
    """Lanes the job was in before this one."""
    failures: int = 0
    """Retryable failures in this lane visit so far, the reported one included."""
    streamed_output: bool = False
    """This delivery already published chunks of an answer."""
    lane_up: Callable[[Lane], bool] = field(default=lambda lane: True)
    """Whether a lane has a backend that may take calls now (asks the breakers)."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Call a backend of this lane again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True, slots=True)
class Move:
    """Hand the job on to ``lane`` now."""

    lane: Lane
    reason: str


@dataclass(frozen=True, slots=True)
class Defer:
    """Put the job back in this lane's queue, to run again in ``countdown`` seconds."""

    countdown: float
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    error: str
    kind: str
    param: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Fail the job and keep it in the dead-letter store for a replay."""

    error: str
    kind: str = "exhausted"


Decision = Retry | Move | Defer | Fail | DeadLetter


class Policy(Protocol):
    def decide(self, outcome: Outcome, delivery: Delivery) -> Decision | None:
        """A decision on ``outcome``, or None to leave it to the next policy."""
