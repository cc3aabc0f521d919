"""Waiting for a job to finish by reading its event stream (no polling)."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from api.streams import BLOCK_MS
from laneway import keys
from laneway.jobs import Job
from laneway.store import AsyncJobStore, Outcome, first_outcome


async def wait_final(client: aioredis.Redis, job_id: str, timeout: float) -> Outcome | None:
    """Block until the job is final (its outcome) or ``timeout`` runs out (None).

    Reads the job's one-entry ``final`` stream: one wake-up per job, however many
    status changes it goes through, no window in which the end can be missed, and
    the entry carries the outcome itself.
    """
    remaining = timeout
    deadline = time.monotonic() + timeout
    while remaining > 0:
        reply = await client.xread({keys.final(job_id): "0-0"}, count=1, block=block_ms(remaining))
        outcome = first_outcome(job_id, reply)
        if outcome is not None:
            return outcome
        remaining = deadline - time.monotonic()
    return None


def block_ms(seconds: float) -> int:
    """One blocking read's share of a wait of ``seconds``."""
    return max(1, min(BLOCK_MS, int(seconds * 1000)))


async def wait_for_finish(store: AsyncJobStore, job_id: str, timeout: float) -> Job | None:
    """The job once it has finished, or as it stands when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        finished, job = await store.wait_and_get(job_id, block_ms(remaining))
        if finished or job is None or remaining <= BLOCK_MS / 1000:
            return job
