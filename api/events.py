"""Waiting for a job to finish by reading its event stream (no polling)."""

from __future__ import annotations

import redis.asyncio as aioredis

from api.streams import job_events
from laneway.jobs import Job
from laneway.store import AsyncJobStore


async def wait_for_finish(
    client: aioredis.Redis, store: AsyncJobStore, job_id: str, timeout: float
) -> Job | None:
    """The job once it has finished, or as it stands when ``timeout`` runs out."""
    async for _ in job_events(client, job_id, timeout=timeout):
        pass
    return await store.get(job_id)
