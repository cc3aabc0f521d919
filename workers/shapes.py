"""OpenAI's published response shapes: fill in what a backend leaves out.

Backends differ in what they omit (llama.cpp, vLLM and the sim send no
``message.refusal``; some send no ``logprobs``, ``created`` or ``id``). Typed
OpenAI clients reject an answer that lacks a required field, so every answer
laneway stores is completed to the spec (openai/openai-openapi:
``CreateChatCompletionResponse``, ``CreateCompletionResponse``,
``CreateChatCompletionStreamResponse``). Fields a backend did send are kept.
"""

from __future__ import annotations

import os
import time
from typing import Any

from laneway.jobs import JobKind

CHAT_OBJECT = "chat.completion"
CHAT_CHUNK_OBJECT = "chat.completion.chunk"
TEXT_OBJECT = "text_completion"


def new_response_id(kind: JobKind) -> str:
    return f"{'chatcmpl' if kind is JobKind.CHAT else 'cmpl'}-{os.urandom(12).hex()}"


def new_tool_call_id() -> str:
    return f"call_{os.urandom(12).hex()}"


def unix_seconds(value: Any) -> int:
    """``value`` as whole Unix seconds when it is a number, else now."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return int(time.time())


def finish_reason(value: Any, tool_calls: Any = None) -> str:
    if isinstance(value, str) and value:
        return value
    return "tool_calls" if tool_calls else "stop"


def conform_response(kind: JobKind, body: dict[str, Any], model: str) -> dict[str, Any]:
    """Complete a non-streamed answer (in place) and return it."""
    body["object"] = CHAT_OBJECT if kind is JobKind.CHAT else TEXT_OBJECT
    if not isinstance(body.get("id"), str) or not body["id"]:
        body["id"] = new_response_id(kind)
    body["created"] = unix_seconds(body.get("created"))
    if not isinstance(body.get("model"), str) or not body["model"]:
        body["model"] = model
    choices = body.get("choices")
    body["choices"] = [
        _conform_choice(kind, choice, position)
        for position, choice in enumerate(choices if isinstance(choices, list) else [])
        if isinstance(choice, dict)
    ]
    usage = body.get("usage")
    if isinstance(usage, dict):
        body["usage"] = conform_usage(usage)
    else:
        body.pop("usage", None)  # optional, but an object when present
    return body


def _conform_choice(kind: JobKind, choice: dict[str, Any], position: int) -> dict[str, Any]:
    if not isinstance(choice.get("index"), int):
        choice["index"] = position
    _conform_logprobs(kind, choice)
    if kind is JobKind.CHAT:
        message = choice.get("message")
        if not isinstance(message, dict):
            message = choice["message"] = {}
        message["role"] = "assistant"
        message.setdefault("content", None)
        message.setdefault("refusal", None)
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, list):
            for call in tool_calls:
                if isinstance(call, dict):
                    _conform_tool_call(call)
        elif "tool_calls" in message:
            del message["tool_calls"]  # null: optional, but an array when present
        choice["finish_reason"] = finish_reason(choice.get("finish_reason"), tool_calls)
    else:
        if not isinstance(choice.get("text"), str):
            choice["text"] = ""
        choice["finish_reason"] = finish_reason(choice.get("finish_reason"))
    return choice


def _conform_tool_call(call: dict[str, Any]) -> None:
    if not isinstance(call.get("id"), str) or not call["id"]:
        call["id"] = new_tool_call_id()
    call.setdefault("type", "function")
    function = call.get("function")
    if not isinstance(function, dict):
        function = call["function"] = {}
    function.setdefault("name", "")
    if not isinstance(function.get("arguments"), str):
        function["arguments"] = ""


def conform_usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    usage["prompt_tokens"] = prompt = prompt if isinstance(prompt, int) else 0
    usage["completion_tokens"] = completion = completion if isinstance(completion, int) else 0
    if not isinstance(usage.get("total_tokens"), int):
        usage["total_tokens"] = prompt + completion
    return usage


def conform_chunk_choice(kind: JobKind, choice: dict[str, Any], position: int) -> dict[str, Any]:
    """Complete one choice of a streamed chunk (in place) and return it."""
    if not isinstance(choice.get("index"), int):
        choice["index"] = position
    if kind is JobKind.CHAT:
        if not isinstance(choice.get("delta"), dict):
            choice["delta"] = {}
    elif not isinstance(choice.get("text"), str):
        choice["text"] = ""
    choice.setdefault("finish_reason", None)
    _conform_logprobs(kind, choice)
    return choice


def _conform_logprobs(kind: JobKind, choice: dict[str, Any]) -> None:
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        choice["logprobs"] = None
    elif kind is JobKind.CHAT:  # both lists are required (null when there are none)
        logprobs.setdefault("content", None)
        logprobs.setdefault("refusal", None)
