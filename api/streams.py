"""Reading a job's event stream (status changes and token chunks, in order) and
serving events to clients."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from sse_starlette import EventSourceResponse

from laneway import keys
from laneway.jobs import FINISHED, JobStatus
from laneway.store import Outcome

BLOCK_MS = 10_000
"""Longest single blocking read; below the API's Redis socket timeout."""


@dataclass(frozen=True, slots=True)
class JobEvent:
    id: str
    type: str
    """``status`` or ``chunks``."""
    data: Any

    @property
    def status(self) -> JobStatus | None:
        return JobStatus(self.data["status"]) if self.type == "status" else None

    @property
    def final(self) -> bool:
        return self.status in FINISHED


async def job_events(
    client: aioredis.Redis, job_id: str, after: str = "0-0", timeout: float | None = None
) -> AsyncIterator[JobEvent]:
    """Every event after ``after`` (a stream id), ending with the final status.

    Uses blocking reads, so a waiting client costs no polling; a client that
    reconnects with its last event id continues without loss or repetition.
    With ``timeout``, the iteration also ends (early) when that many seconds pass.
    """
    stream = keys.events(job_id)
    last = after
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        block = BLOCK_MS
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            block = max(1, min(BLOCK_MS, int(remaining * 1000)))
        reply = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            await client.xread({stream: last}, count=200, block=block),
        )
        if not reply and not await client.exists(stream):
            return  # the job's content (its event stream) expired: nothing more will come
        for _, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id
                event = JobEvent(entry_id, fields.get("type", ""), json.loads(fields["data"]))
                yield event
                if event.final:
                    return


def event_stream_response(
    events: AsyncIterator[dict[str, str]] | AsyncIterator[str],
    headers: dict[str, str] | None = None,
) -> EventSourceResponse:
    r"""Server-sent events whose lines end in LF, so each event ends in "\n\n" as
    OpenAI's and llama.cpp's do (sse-starlette's default CRLF defeats clients that
    split a stream on "\n\n"). Events are strings (data) or dicts (data, event, id):
    an sse-starlette ``ServerSentEvent`` would keep its own CRLF."""
    return EventSourceResponse(events, headers=headers, ping=15, sep="\n")


async def streaming_outcome(
    client: aioredis.Redis, job_id: str
) -> tuple[Outcome | None, str | None]:
    """The job's outcome fields and, while it runs, the backend of its open attempt
    (the one streaming the answer): one atomic read."""
    values = cast(
        list[str | None],
        await client.hmget(keys.job(job_id), [*Outcome.FIELDS, "attempt_open"]),
    )
    *fields, attempt = values
    if fields[0] is None:
        return None, None
    outcome = Outcome(job_id, fields[0], *fields[1:])
    backend = json.loads(attempt).get("backend") if attempt else None
    return outcome, outcome.backend or backend
