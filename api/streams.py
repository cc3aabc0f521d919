"""Reading a job's event stream: status changes and token chunks, in order."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from laneway import keys
from laneway.jobs import FINISHED, JobStatus

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
        for _, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id
                event = JobEvent(entry_id, fields.get("type", ""), json.loads(fields["data"]))
                yield event
                if event.final:
                    return
