"""The job record: the source of truth for one inference request."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    QUEUED = "queued"
    ROUTED = "routed"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobKind(StrEnum):
    CHAT = "chat"
    COMPLETION = "completion"

    @property
    def path(self) -> str:
        return "/chat/completions" if self is JobKind.CHAT else "/completions"


class Attempt(BaseModel):
    backend: str
    lane: str
    started_at: float
    ended_at: float | None = None
    outcome: str = "running"
    error: str | None = None
    latency_ms: float | None = None


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Spillover(BaseModel):
    """Why a job runs in another lane than the one it was sent to (lane spillover)."""

    from_lane: str
    to_lane: str
    waited_seconds: float
    """How long it had waited in ``from_lane``'s queue."""
    confidence: float | None = None
    """The classifier's confidence, when low confidence was the reason to move sooner."""
    at: float


class Job(BaseModel):
    id: str
    tenant: str
    status: JobStatus
    kind: JobKind
    request: dict[str, Any] | None = None
    """None once the job's content expired (see ``content_expired``)."""
    route: str | None = None
    priority: str = "normal"
    idempotency_key: str | None = None
    lane: str | None = None
    confidence: float | None = None
    reason: str | None = None
    strategy: str | None = None
    queue: str | None = None
    backend: str | None = None
    model: str | None = None
    result: dict[str, Any] | None = None
    usage: Usage | None = None
    latency_ms: float | None = None
    """The answering backend call's duration."""
    ttft_ms: float | None = None
    queue_wait_ms: float | None = None
    """Submitted to first taken by a lane worker (classifying included)."""
    backend_ms: float | None = None
    """Time spent in backend calls, failed attempts included."""
    usage_estimated: bool = False
    """The backend sent no usage: laneway counted the tokens (about four characters each)."""
    cost: float | None = None
    """usage × the backend's price per 1k tokens, in the prices' currency (None: unpriced)."""
    error: str | None = None
    error_type: str | None = None
    """``fatal``, ``context_length``, ``retryable``, ``cancelled`` ... when the job failed."""
    error_param: str | None = None
    """The request field a backend's error named (OpenAI's ``error.param``)."""
    attempts: list[Attempt] = Field(default_factory=list)
    deliveries: int = 0
    dead_lettered: bool = False
    deadline_at: float | None = None
    created_at: float
    routed_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float
    spillover: Spillover | None = None
    """Set when the job moved out of its lane's queue to a lane with room."""
    content_expired: bool = False
    """The job finished longer ago than its content TTL (or was set to keep no content):
    its prompt and result are no longer kept, its metadata is."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "request",
        "result",
        "usage",
        "attempts",
        "spillover",
    )

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> Job:
        data: dict[str, Any] = {k: v for k, v in raw.items() if v != ""}
        for name in cls.JSON_FIELDS:
            if name in data:
                data[name] = json.loads(data[name])
        if "attempt_open" in data:
            data.setdefault("attempts", []).append(json.loads(data.pop("attempt_open")))
        if "backend_us" in data:  # kept in microseconds: summed by HINCRBY (see common.lua)
            data["backend_ms"] = int(data.pop("backend_us")) / 1000
        data["usage_estimated"] = bool(
            isinstance(data.get("usage"), dict) and data["usage"].get("estimated")
        )
        data["content_expired"] = "request" not in data and data.get("status") in FINISHED
        return cls.model_validate(data)
