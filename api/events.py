"""Waiting for jobs by reading their event streams (blocking reads, no polling)."""

from __future__ import annotations

import json
import time
from typing import cast

import redis.asyncio as aioredis

from laneway import keys
from laneway.jobs import FINISHED, Job, JobStatus
from laneway.store import AsyncJobStore


async def wait_for_finish(
    client: aioredis.Redis, store: AsyncJobStore, job_id: str, timeout: float
) -> Job | None:
    """The job once it has finished, or as it stands when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    stream = keys.events(job_id)
    last_id = "0-0"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return await store.get(job_id)
        reply = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            await client.xread({stream: last_id}, count=100, block=max(1, int(remaining * 1000))),
        )
        if not reply:
            return await store.get(job_id)
        for _, entries in reply:
            for entry_id, fields in entries:
                last_id = entry_id
                if fields.get("type") == "status":
                    status = JobStatus(json.loads(fields["data"])["status"])
                    if status in FINISHED:
                        return await store.get(job_id)
