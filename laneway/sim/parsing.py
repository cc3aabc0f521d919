"""Validation of completion request bodies.

Hand-written rather than pydantic: this runs on every request and the overhead
benchmark compares laneway against direct calls to this server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from laneway.sim.errors import ApiError, invalid_type, missing
from laneway.sim.textgen import estimate_tokens

Kind = Literal["chat", "completion"]
MAX_CHOICES = 16
ANSWER_TOKENS_KEY = "sim_answer_tokens"
"""``metadata`` key giving the natural length of the answer (a real model decides that
from the prompt; the sim is told). ``max_tokens`` still cuts the answer short."""


@dataclass(slots=True)
class CompletionRequest:
    kind: Kind
    model: str
    prompt: str
    prompt_tokens: int
    max_tokens: int | None
    stream: bool
    include_usage: bool
    n: int = 1
    tools: tuple[str, ...] = ()
    """Names of the functions the answer calls (chat requests with ``tools``)."""
    answer_tokens: int | None = None
    """The natural answer's length from ``metadata``; None: the profile's default."""


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object.", code="invalid_type")
    return body


def parse_completion_request(kind: Kind, body: dict[str, Any]) -> CompletionRequest:
    model = body.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string")

    if kind == "chat":
        prompt = _chat_prompt(body.get("messages"))
        prompt_tokens = estimate_tokens(prompt)
        max_tokens = _optional_positive_int(body, "max_completion_tokens")
        if max_tokens is None:
            max_tokens = _optional_positive_int(body, "max_tokens")
    else:
        prompt, prompt_tokens = _completion_prompt(body.get("prompt"))
        max_tokens = _optional_positive_int(body, "max_tokens")

    n = body.get("n")
    if n is None:
        n = 1
    elif type(n) is not int:
        raise invalid_type("n", "an integer")
    elif not 1 <= n <= MAX_CHOICES:
        raise ApiError(
            400, f"'n' must be between 1 and {MAX_CHOICES}.", param="n", code="invalid_value"
        )
    tools = _called_functions(body) if kind == "chat" else ()

    stream = body.get("stream")
    if stream is None:
        stream = False
    elif not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean")

    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise invalid_type("stream_options", "an object")
        usage_flag = options.get("include_usage")
        if usage_flag is not None and not isinstance(usage_flag, bool):
            raise invalid_type("stream_options.include_usage", "a boolean")
        include_usage = bool(usage_flag)

    return CompletionRequest(
        kind,
        model,
        prompt,
        prompt_tokens,
        max_tokens,
        stream,
        include_usage,
        n,
        tools,
        _answer_tokens(body.get("metadata")),
    )


def _answer_tokens(metadata: Any) -> int | None:
    if not isinstance(metadata, dict) or metadata.get(ANSWER_TOKENS_KEY) is None:
        return None
    value = metadata[ANSWER_TOKENS_KEY]
    param = f"metadata.{ANSWER_TOKENS_KEY}"
    if isinstance(value, str) and value.isdigit():  # OpenAI's metadata values are strings
        value = int(value)
    if type(value) is not int or value < 1:
        raise ApiError(
            400, f"'{param}' must be a positive integer.", param=param, code="invalid_value"
        )
    return value


def _called_functions(body: dict[str, Any]) -> tuple[str, ...]:
    """The functions the answer calls: every declared one (in parallel), the one
    ``tool_choice`` names, only the first without ``parallel_tool_calls``, none
    for ``tool_choice: "none"``. A real model may answer in text instead; the sim
    always calls, so that tool-call handling can be tested deterministically."""
    tools = body.get("tools")
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise invalid_type("tools", "an array of tools")
    names: list[str] = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise invalid_type(f"tools[{i}].function.name", "a string")
        names.append(name)
    choice = body.get("tool_choice")
    if choice == "none":
        return ()
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if name not in names:
            raise ApiError(
                400,
                "'tool_choice' must name a function declared in 'tools'.",
                param="tool_choice",
                code="invalid_value",
            )
        return (str(name),)
    if body.get("parallel_tool_calls") is False:
        return tuple(names[:1])
    return tuple(names)


def _chat_prompt(messages: Any) -> str:
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise invalid_type("messages", "an array of message objects")
    if not messages:
        raise ApiError(
            400,
            "'messages' must contain at least one message.",
            param="messages",
            code="empty_array",
        )
    parts: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid_type(f"messages[{i}]", "an object")
        role = message.get("role")
        if not isinstance(role, str):
            raise invalid_type(f"messages[{i}].role", "a string")
        parts.append(f"{role}: {_content_text(message.get('content'), i)}")
    return "\n".join(parts)


def _content_text(content: Any, index: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if not isinstance(part, dict):
                raise invalid_type(f"messages[{index}].content", "a string or an array of parts")
            text = part.get("text")
            if isinstance(text, str):
                texts.append(text)
        return "\n".join(texts)
    raise invalid_type(f"messages[{index}].content", "a string or an array of parts")


def _completion_prompt(prompt: Any) -> tuple[str, int]:
    if prompt is None:
        raise missing("prompt")
    if isinstance(prompt, str):
        return prompt, estimate_tokens(prompt)
    if isinstance(prompt, list):
        if all(type(t) is int for t in prompt) and prompt:
            return " ".join(map(str, prompt)), len(prompt)  # a list of token ids
        if len(prompt) == 1 and isinstance(prompt[0], str):
            return prompt[0], estimate_tokens(prompt[0])
        raise ApiError(
            400,
            "The sim backend supports one prompt per request (a string or one list of token ids).",
            param="prompt",
            code="unsupported",
        )
    raise invalid_type("prompt", "a string or an array of token ids")


def _optional_positive_int(body: dict[str, Any], param: str) -> int | None:
    value = body.get(param)
    if value is None:
        return None
    if type(value) is not int:
        raise invalid_type(param, "an integer")
    if value < 1:
        raise ApiError(400, f"'{param}' must be at least 1.", param=param, code="invalid_value")
    return value
