"""OpenAI's response shapes, as its published OpenAPI spec defines them.

Written from openai/openai-openapi (``openapi.yaml``, components.schemas):
``CreateChatCompletionResponse``, ``ChatCompletionResponseMessage``,
``ChatCompletionMessageToolCall``, ``CreateChatCompletionStreamResponse``,
``ChatCompletionStreamResponseDelta``, ``ChatCompletionMessageToolCallChunk``,
``CreateCompletionResponse``, ``CompletionUsage``, ``Model``,
``ListModelsResponse``, ``ErrorResponse``/``Error``. Required fields are
required here, types are checked strictly (no coercion), nullable fields accept
null and optional ones may be absent but not null. Extra fields are allowed, as
in the spec.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]
TextFinishReason = Literal["stop", "length", "content_filter"]


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    ABSENT_OR_SET: ClassVar[tuple[str, ...]] = ()
    """Optional fields the spec does not let be null."""

    @model_validator(mode="before")
    @classmethod
    def _optional_is_not_nullable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in cls.ABSENT_OR_SET:
                if name in data and data[name] is None:
                    raise ValueError(f"'{name}' is null: the spec allows it absent, never null")
        return data


class Usage(Shape):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ToolCallFunction(Shape):
    name: str
    arguments: str


class ToolCall(Shape):
    id: str
    type: Literal["function"]
    function: ToolCallFunction


class ChatLogprobs(Shape):
    content: list[dict[str, Any]] | None
    refusal: list[dict[str, Any]] | None


class ChatMessage(Shape):
    ABSENT_OR_SET = ("tool_calls",)
    role: Literal["assistant"]
    content: str | None
    refusal: str | None
    tool_calls: list[ToolCall] = Field(default_factory=list)


class ChatChoice(Shape):
    index: int
    message: ChatMessage
    finish_reason: FinishReason
    logprobs: ChatLogprobs | None


class ChatCompletion(Shape):
    ABSENT_OR_SET = ("usage",)
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None


class ToolCallChunkFunction(Shape):
    ABSENT_OR_SET = ("name", "arguments")
    name: str = ""
    arguments: str = ""


class ToolCallChunk(Shape):
    ABSENT_OR_SET = ("id", "type", "function")
    index: int
    id: str = ""
    type: Literal["function"] = "function"
    function: ToolCallChunkFunction | None = None


class ChatDelta(Shape):
    ABSENT_OR_SET = ("role", "tool_calls")
    role: Literal["developer", "system", "user", "assistant", "tool"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallChunk] = Field(default_factory=list)


class ChatChunkChoice(Shape):
    index: int
    delta: ChatDelta
    finish_reason: FinishReason | None
    # Optional in the spec, sent by OpenAI in every chunk (null); laneway promises it.
    logprobs: ChatLogprobs | None


class ChatChunk(Shape):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None


class CompletionLogprobs(Shape):
    ABSENT_OR_SET = ("text_offset", "token_logprobs", "tokens", "top_logprobs")
    text_offset: list[int] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)
    top_logprobs: list[dict[str, float]] = Field(default_factory=list)


class TextChoice(Shape):
    text: str
    index: int
    logprobs: CompletionLogprobs | None
    finish_reason: TextFinishReason


class TextCompletion(Shape):
    ABSENT_OR_SET = ("usage",)
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[TextChoice]
    usage: Usage | None = None


class TextChunkChoice(TextChoice):
    # The spec gives streamed completions the non-streamed shape, but OpenAI (and
    # every server) sends finish_reason null until the last chunk of a choice.
    finish_reason: TextFinishReason | None  # type: ignore[assignment]


class TextChunk(Shape):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[TextChunkChoice]
    usage: Usage | None = None


class Model(Shape):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(Shape):
    object: Literal["list"]
    data: list[Model]


class Error(Shape):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(Shape):
    error: Error
