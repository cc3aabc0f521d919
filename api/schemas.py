"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.errors import FieldError
from laneway.jobs import Attempt, Job, JobKind, JobStatus, Usage
from laneway.lanes import Lane
from laneway.wire import Priority


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class InferenceRequest(BaseModel):
    """An OpenAI chat-completions or completions body.

    Parameters laneway does not interpret are passed through to the backend.
    """

    model_config = ConfigDict(extra="allow")

    model: str = "auto"
    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    prompt: str | list[str] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=16)
    stream: bool = False

    @model_validator(mode="after")
    def _one_input(self) -> InferenceRequest:
        if (self.messages is None) == (self.prompt is None):
            raise FieldError(
                "messages", "give exactly one of 'messages' (chat) or 'prompt' (completions)"
            )
        return self

    @property
    def kind(self) -> JobKind:
        return JobKind.CHAT if self.messages is not None else JobKind.COMPLETION

    def backend_request(self) -> dict[str, Any]:
        return self.model_dump(
            exclude_none=True, exclude=set(JobOptions.model_fields), exclude_unset=False
        )


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(InferenceRequest):
    """``POST /v1/chat/completions``, as OpenAI defines it."""

    messages: list[ChatMessage] = Field(min_length=1)
    stream_options: StreamOptions | None = None


class CompletionRequest(InferenceRequest):
    """``POST /v1/completions``, as OpenAI defines it."""

    prompt: str | list[str]
    stream_options: StreamOptions | None = None


class JobOptions(BaseModel):
    route: Lane | None = Field(default=None, description="force a lane, skipping the classifier")
    priority: Priority = "normal"
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class JobSubmit(InferenceRequest, JobOptions):
    """``POST /v1/jobs``: an OpenAI request plus laneway's routing options."""


class JobLinks(BaseModel):
    self: str
    events: str


class JobAccepted(BaseModel):
    id: str
    status: JobStatus
    lane: str | None
    created: bool = Field(description="false when the idempotency key matched an earlier job")
    links: JobLinks


class JobView(BaseModel):
    id: str
    status: JobStatus
    kind: JobKind
    lane: str | None
    confidence: float | None
    reason: str | None
    strategy: str | None
    queue: str | None
    priority: str
    backend: str | None
    model: str | None
    result: dict[str, Any] | None
    usage: Usage | None
    latency_ms: float | None
    ttft_ms: float | None
    cost: float | None = Field(
        description="usage × the backend's price_per_1k_input/output (null when unpriced)"
    )
    error: str | None
    error_type: str | None
    attempts: list[Attempt]
    deliveries: int
    dead_lettered: bool
    deadline_at: float | None
    created_at: float
    routed_at: float | None
    started_at: float | None
    finished_at: float | None
    updated_at: float
    request: dict[str, Any]

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(job.model_dump(exclude={"tenant", "route", "idempotency_key"}))


def links_for(job_id: str) -> JobLinks:
    return JobLinks(self=f"/v1/jobs/{job_id}", events=f"/v1/jobs/{job_id}/events")
