"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from api.errors import FieldError
from laneway.jobs import Attempt, Job, JobKind, JobStatus, Spillover, Usage
from laneway.lanes import Lane
from laneway.wire import Priority
from producer.submit import MAX_IDEMPOTENCY_KEY_LENGTH


def one_of(expected: str) -> WrapValidator:
    """One error in words for a value that fits none of a union's shapes.

    pydantic reports one error per shape, each named after a Python type
    (``content.list[dict[str,any]]``); a client wants to know what to send.
    """

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(
                "invalid_type", "must be {expected}", {"expected": expected}
            ) from None

    return WrapValidator(validate)


class ContentPart(BaseModel):
    """One part of a message's content: ``{"type": "text", "text": ...}``, an image ..."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


NonEmpty = Field(min_length=1)
TokenId = Annotated[StrictInt, Field(ge=0)]
MessageContent = Annotated[
    str | Annotated[list[ContentPart], NonEmpty] | None,
    one_of("a string or an array of content parts (objects with a 'type')"),
]
Prompt = Annotated[
    str
    | Annotated[list[str], NonEmpty]
    | Annotated[list[TokenId], NonEmpty]
    | Annotated[list[Annotated[list[TokenId], NonEmpty]], NonEmpty],
    one_of(
        "a string, or a non-empty array of strings, of token ids (integers) or of "
        "non-empty arrays of token ids"
    ),
]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: MessageContent = None


class InferenceRequest(BaseModel):
    """An OpenAI chat-completions or completions body.

    Parameters laneway does not interpret are passed through to the backend.
    """

    model_config = ConfigDict(extra="allow")

    model: str = "auto"
    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    prompt: Prompt | None = None
    # Strict types: "10" is not a number, nor "yes" a boolean (OpenAI refuses both).
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    temperature: StrictFloat | None = Field(default=None, ge=0, le=2)
    top_p: StrictFloat | None = Field(default=None, ge=0, le=1)
    presence_penalty: StrictFloat | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: StrictFloat | None = Field(default=None, ge=-2, le=2)
    n: StrictInt | None = Field(default=None, ge=1, le=128)
    stream: StrictBool | None = None

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

    include_usage: StrictBool | None = None


class ChatCompletionRequest(InferenceRequest):
    """``POST /v1/chat/completions``, as OpenAI defines it."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream_options: StreamOptions | None = None


class CompletionRequest(InferenceRequest):
    """``POST /v1/completions``, as OpenAI defines it."""

    model: str
    prompt: Prompt
    stream_options: StreamOptions | None = None


class JobOptions(BaseModel):
    route: Lane | None = Field(default=None, description="force a lane, skipping the classifier")
    priority: Priority = "normal"
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH
    )


class JobSubmit(InferenceRequest, JobOptions):
    """``POST /v1/jobs``: an OpenAI request plus laneway's routing options."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"messages": [{"role": "user", "content": "Hello"}], "route": "fast-path"},
                {"model": "auto", "prompt": "Once upon a time", "max_tokens": 8},
            ]
        }
    )


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
    latency_ms: float | None = Field(description="duration of the backend call that answered")
    ttft_ms: float | None
    queue_wait_ms: float | None = Field(
        default=None, description="submitted to first taken by a lane worker (classifying included)"
    )
    backend_ms: float | None = Field(
        default=None, description="time in backend calls, failed attempts included"
    )
    usage_estimated: bool = Field(
        default=False,
        description="the backend sent no usage: laneway counted the tokens (~4 characters each)",
    )
    cost: float | None = Field(
        description="usage × the backend's price_per_1k_input/output (null when unpriced)"
    )
    error: str | None
    error_type: str | None
    error_param: str | None = Field(
        default=None, description="the request field a backend's error named, if any"
    )
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
    spillover: Spillover | None = Field(
        default=None,
        description="set when the job moved from its lane's queue to a lane with free "
        "slots (lane spillover): from and to lane, seconds waited",
    )

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(job.model_dump(exclude={"tenant", "route", "idempotency_key"}))


def _job_link(path: str, method: str) -> dict[str, Any]:
    ref = "#/paths/" + path.replace("/", "~1") + "/" + method
    return {"operationRef": ref, "parameters": {"job_id": "$response.body#/id"}}


SUBMITTED_JOB_LINKS = {
    "GetJob": _job_link("/v1/jobs/{job_id}", "get"),
    "CancelJob": _job_link("/v1/jobs/{job_id}", "delete"),
    "JobEvents": _job_link("/v1/jobs/{job_id}/events", "get"),
}
"""OpenAPI links from a submitted job to what can be done with it."""


def links_for(job_id: str) -> JobLinks:
    return JobLinks(self=f"/v1/jobs/{job_id}", events=f"/v1/jobs/{job_id}/events")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """Every error, as OpenAI shapes them."""

    error: ErrorDetail


_ERROR_MEANINGS = {
    400: "invalid request; the message says why and `param` names the field",
    401: "missing or invalid API key",
    404: "no such job, model, file or batch (or not yours)",
    409: "the job was cancelled, the idempotency key was used for another request, or the "
    "file or batch is in a state that forbids this",
    413: "request body over `api.max_body_bytes`",
    422: "invalid body; the message and `param` name the field",
    429: "the queue is full; retry after `Retry-After` seconds (batches: too many open)",
    500: "unexpected error (logged by the server)",
    502: "no backend could answer",
    503: "the job store is unavailable; retry after `Retry-After` seconds",
    504: "the job did not finish in time; it goes on",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all in the error shape, and for
    any other 4xx (405, 422 where no input can be invalid ...), in the same shape."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse, "description": _ERROR_MEANINGS[status]}
        for status in statuses
    }
    responses["4XX"] = {"model": ErrorResponse, "description": "any other client error"}
    return responses


def event_stream(event: dict[str, Any]) -> dict[str, Any]:
    """A ``text/event-stream`` response; its schema describes one event (as schema
    fuzzers read it, and as OpenAPI 3.2's ``itemSchema`` does)."""
    return {"text/event-stream": {"schema": event}}


SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
    "required": ["data"],
}
JOB_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"enum": ["status", "chunks"]},
        "id": {"type": "string", "pattern": r"^\d+-\d+$"},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
    "required": ["event", "id", "data"],
}
"""An event of ``GET /v1/jobs/{id}/events``: a status change or a batch of chunks."""

OPENAI_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the completion (JSON), or with `stream: true` its chunks as "
        "server-sent events ending in `data: [DONE]`",
        "content": {"application/json": {"schema": {"type": "object"}}, **event_stream(SSE_EVENT)},
    },
    **error_responses(400, 401, 404, 409, 413, 429, 500, 502, 503, 504),
}
"""What ``POST /v1/chat/completions`` and ``POST /v1/completions`` answer."""
