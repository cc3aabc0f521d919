"""The dead-letter store: listing dead-lettered jobs and giving them another go."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

from laneway import keys
from laneway.celery_app import RUN_TASK
from laneway.jobs import Job
from laneway.lanes import GENERAL, Lane, parse_lane, queue_for
from laneway.store import JobStore
from laneway.wire import MessageFactory, Priority


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str
    job_id: str
    error: str
    at: float
    job: Job | None


def dead_letters(store: JobStore) -> list[DeadLetter]:
    return [
        DeadLetter(
            entry_id,
            fields.get("job_id", ""),
            fields.get("error", ""),
            float(fields.get("at") or 0),
            store.get(fields.get("job_id", "")),
        )
        for entry_id, fields in store.dead_letters()
    ]


def first_lane(job: Job) -> Lane:
    """Where the job started: its first attempt's lane, else its lane, else general."""
    for candidate in [a.lane for a in job.attempts] + [job.lane or GENERAL]:
        try:
            return parse_lane(candidate)
        except ValueError:
            continue
    return GENERAL


def requeue(
    store: JobStore,
    messages: MessageFactory,
    letter: DeadLetter,
    deadline_seconds: float,
    lane: Lane | None = None,
) -> str:
    """Send a dead-lettered job back to a lane with a fresh deadline."""
    if letter.job is None:
        store.redis.xdel(keys.DEAD_LETTERS, letter.entry_id)
        return "expired"
    target = lane or first_lane(letter.job)
    priority = cast(Priority, letter.job.priority)
    message = messages.build(
        RUN_TASK, (letter.job_id, None, [], priority), queue_for(target), priority=priority
    )
    fields = {
        "lane": target,
        "queue": queue_for(target),
        "reason": "requeued from the dead-letter store",
        "deadline_at": time.time() + deadline_seconds,
    }
    return store.requeue(letter.job_id, message, fields, letter.entry_id)
