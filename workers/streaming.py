"""Reading a backend's server-sent events and batching chunks into Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from laneway.jobs import JobKind
from laneway.requests import estimate_tokens, request_text
from laneway.store import JobStore
from workers.shapes import (
    CHAT_CHUNK_OBJECT,
    CHAT_OBJECT,
    TEXT_OBJECT,
    conform_chunk_choice,
    conform_usage,
    finish_reason,
    new_response_id,
    new_tool_call_id,
    unix_seconds,
)


def sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data:`` payloads of an event stream, ending at ``[DONE]`` (yielded too)."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        yield payload
        if payload == "[DONE]":
            return


@dataclass
class ChoiceAssembly:
    """One choice of a streamed answer, put back together from its deltas."""

    pieces: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None

    def add_tool_calls(self, deltas: list[Any]) -> None:
        """Merge tool-call deltas by index: id, type and name as sent, arguments
        concatenated."""
        for delta in deltas:
            if not isinstance(delta, dict):
                continue
            index = delta.get("index")
            call = self.tool_calls.setdefault(
                index if isinstance(index, int) else len(self.tool_calls),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            for key in ("id", "type"):
                if isinstance(delta.get(key), str) and delta[key]:
                    call[key] = delta[key]
            function = delta.get("function")
            if isinstance(function, dict):
                if isinstance(function.get("name"), str) and function["name"]:
                    call["function"]["name"] = function["name"]
                if isinstance(function.get("arguments"), str):
                    call["function"]["arguments"] += function["arguments"]

    def add_logprobs(self, logprobs: Any) -> None:
        """Concatenate the per-token lists (``content``/``refusal`` for chat,
        ``tokens``, ``token_logprobs``, ... for completions)."""
        if not isinstance(logprobs, dict):
            return
        merged = self.logprobs = self.logprobs or {}
        for key, value in logprobs.items():
            if isinstance(value, list):
                existing = merged.get(key)
                if isinstance(existing, list):
                    existing.extend(value)
                else:
                    merged[key] = list(value)
            else:
                merged.setdefault(key, value)

    def render(self, kind: JobKind, index: int) -> dict[str, Any]:
        text = "".join(self.pieces)
        choice: dict[str, Any] = {"index": index}
        if kind is JobKind.CHAT:
            calls = [
                {**call, "id": call["id"] or new_tool_call_id()}
                for _, call in sorted(self.tool_calls.items())
            ]
            message: dict[str, Any] = {
                "role": "assistant",
                "content": text if text or not (calls or self.refusal) else None,
                "refusal": "".join(self.refusal) or None,
            }
            if calls:
                message["tool_calls"] = calls
            choice["message"] = message
            logprobs = self.logprobs
            if logprobs is not None:
                logprobs = {"content": None, "refusal": None, **logprobs}
        else:
            choice["text"] = text
            calls, logprobs = [], self.logprobs
        choice["logprobs"] = logprobs
        choice["finish_reason"] = finish_reason(self.finish_reason, calls)
        return choice


@dataclass
class Assembly:
    """Builds the final response of a streamed call, as a non-streamed call returns it:
    every choice, with its text, refusal, tool calls and logprobs.

    Also completes each chunk to OpenAI's chunk shape before clients see it.
    """

    kind: JobKind
    model: str
    choices: dict[int, ChoiceAssembly] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    content_chunks: int = 0
    first_token_at: float | None = None
    header: dict[str, Any] | None = None
    """``id``, ``created``, ``model`` (and ``system_fingerprint``) shared by every chunk."""

    def add(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """Take one backend chunk; return what clients should see (None: nothing)."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return None
        visible = {k: v for k, v in chunk.items() if k != "usage"}
        header = self._header(chunk)
        visible["object"] = header["object"]
        for key in ("id", "model"):
            if not isinstance(visible.get(key), str) or not visible[key]:
                visible[key] = header[key]
        if type(visible.get("created")) is not int:
            visible["created"] = header["created"]
        visible["choices"] = [
            self._add_choice(conform_chunk_choice(self.kind, choice, position))
            for position, choice in enumerate(choices)
            if isinstance(choice, dict)
        ]
        return visible

    def _header(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """The first chunk's ``id``, ``created`` and ``model``: what the answer shows."""
        if self.header is None:
            chunk_id, model = chunk.get("id"), chunk.get("model")
            self.header = {
                "id": chunk_id if isinstance(chunk_id, str) and chunk_id else None,
                "object": CHAT_CHUNK_OBJECT if self.kind is JobKind.CHAT else TEXT_OBJECT,
                "created": unix_seconds(chunk.get("created")),
                "model": model if isinstance(model, str) and model else self.model,
            }
            self.header["id"] = self.header["id"] or new_response_id(self.kind)
            if isinstance(chunk.get("system_fingerprint"), str):
                self.header["system_fingerprint"] = chunk["system_fingerprint"]
        return self.header

    def _add_choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        state = self.choices.setdefault(choice["index"], ChoiceAssembly())
        output = False
        if self.kind is JobKind.CHAT:
            delta = choice["delta"]
            if isinstance(delta.get("content"), str) and delta["content"]:
                state.pieces.append(delta["content"])
                output = True
            if isinstance(delta.get("refusal"), str) and delta["refusal"]:
                state.refusal.append(delta["refusal"])
                output = True
            if isinstance(delta.get("tool_calls"), list) and delta["tool_calls"]:
                state.add_tool_calls(delta["tool_calls"])
                output = True
        elif choice["text"]:
            state.pieces.append(choice["text"])
            output = True
        state.add_logprobs(choice["logprobs"])
        if isinstance(choice["finish_reason"], str) and choice["finish_reason"]:
            state.finish_reason = choice["finish_reason"]
        if output:
            self.content_chunks += 1
            if self.first_token_at is None:
                self.first_token_at = time.time()
        return choice

    def final_usage(self, request: dict[str, Any]) -> dict[str, Any]:
        """The backend's usage, or our count when it sends none (llama.cpp doesn't)."""
        if self.usage:
            return conform_usage(self.usage)
        prompt = estimate_tokens(request_text(request))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": self.content_chunks,
            "total_tokens": prompt + self.content_chunks,
            "estimated": True,
        }

    def response(self, request: dict[str, Any]) -> dict[str, Any]:
        header = self.header or {
            "id": new_response_id(self.kind),
            "created": int(time.time()),
            "model": self.model,
        }
        choices = self.choices or {0: ChoiceAssembly()}
        return {
            **header,
            "object": CHAT_OBJECT if self.kind is JobKind.CHAT else TEXT_OBJECT,
            "choices": [state.render(self.kind, index) for index, state in sorted(choices.items())],
            "usage": self.final_usage(request),
        }


def parse_chunk(payload: str) -> dict[str, Any] | None:
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def has_output(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if (
            choice.get("text")
            or delta.get("content")
            or delta.get("tool_calls")
            or delta.get("refusal")
        ):
            return True
    return False


class ChunkBatcher:
    """Appends chunks to the job's event stream: at once until the first output,
    then in batches.

    The first token is what a waiting client feels most; later chunks are
    grouped (by time and count) to keep Redis round trips per job low.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        max_delay: float = 0.025,
        max_chunks: int = 32,
        owner: str = "",
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._owner = owner
        """The worker instance writing: chunks are refused once it no longer holds the job."""
        self._max_delay = max_delay
        self._max_chunks = max_chunks
        self._pending: list[dict[str, Any]] = []
        self._last_flush: float | None = None
        self._output_published = False
        self.published = False

    def add(self, chunk: dict[str, Any]) -> None:
        self._pending.append(chunk)
        now = time.monotonic()
        if (
            not self._output_published
            or len(self._pending) >= self._max_chunks
            or now - (self._last_flush or now) >= self._max_delay
        ):
            self._output_published = self._output_published or has_output(chunk)
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._store.append_chunks(
                self._job_id, self._pending, first=not self.published, owner=self._owner
            )
            self._pending = []
            self.published = True
        self._last_flush = time.monotonic()
