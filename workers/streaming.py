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
class Assembly:
    """Builds the final response of a streamed call, as a non-streamed call returns it."""

    kind: JobKind
    model: str
    pieces: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    content_chunks: int = 0
    first_token_at: float | None = None

    def add(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """Take one backend chunk; return what clients should see (None: nothing)."""
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not choices:
            return None
        choice = choices[0]
        text = (
            (choice.get("delta") or {}).get("content")
            if self.kind is JobKind.CHAT
            else choice.get("text")
        )
        if text:
            self.pieces.append(text)
            self.content_chunks += 1
            if self.first_token_at is None:
                self.first_token_at = time.time()
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        return {k: v for k, v in chunk.items() if k != "usage"}

    def final_usage(self, request: dict[str, Any]) -> dict[str, Any]:
        """The backend's usage, or our count when it sends none (llama.cpp doesn't)."""
        if self.usage:
            return self.usage
        prompt = estimate_tokens(request_text(request))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": self.content_chunks,
            "total_tokens": prompt + self.content_chunks,
            "estimated": True,
        }

    def response(self, response_id: str, request: dict[str, Any]) -> dict[str, Any]:
        text = "".join(self.pieces)
        choice: dict[str, Any]
        if self.kind is JobKind.CHAT:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text}
            obj = "text_completion"
        choice["finish_reason"] = self.finish_reason or "stop"
        return {
            "id": response_id,
            "object": obj,
            "created": int(time.time()),
            "model": self.model,
            "choices": [choice],
            "usage": self.final_usage(request),
        }


def parse_chunk(payload: str) -> dict[str, Any] | None:
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def has_text(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or []:
        if choice.get("text") or (choice.get("delta") or {}).get("content"):
            return True
    return False


class ChunkBatcher:
    """Appends chunks to the job's event stream: at once until the first text,
    then in batches.

    The first token is what a waiting client feels most; later chunks are
    grouped (by time and count) to keep Redis round trips per job low.
    """

    def __init__(
        self, store: JobStore, job_id: str, max_delay: float = 0.025, max_chunks: int = 32
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._max_delay = max_delay
        self._max_chunks = max_chunks
        self._pending: list[dict[str, Any]] = []
        self._last_flush: float | None = None
        self._text_published = False
        self.published = False

    def add(self, chunk: dict[str, Any]) -> None:
        self._pending.append(chunk)
        now = time.monotonic()
        if (
            not self._text_published
            or len(self._pending) >= self._max_chunks
            or now - (self._last_flush or now) >= self._max_delay
        ):
            self._text_published = self._text_published or has_text(chunk)
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._store.append_chunks(self._job_id, self._pending, first=not self.published)
            self._pending = []
            self.published = True
        self._last_flush = time.monotonic()
