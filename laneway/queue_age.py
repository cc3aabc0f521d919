"""How long the job next in line in each queue has waited: for the
``laneway_queue_oldest_age_seconds`` gauge and ``laneway status``.

A reader asks Redis for the last element of every list of a queue (``LINDEX key -1``:
next in line, the oldest but for high-priority ones), then for the queued jobs'
records (:func:`record_fields`), in a second round trip made only while some queue
holds messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_JOB_ID = re.compile(r"job_[0-9a-f]{32}")
RECORD_FIELDS = ("updated_at", "created_at")
"""Read from each queued job's record: when it was queued (created, routed or sent on)."""


def next_job_id(message: str | None) -> str | None:
    """The job of a queued task message: the first job id in it (the body is base64,
    so the first is the one in the headers' ``argsrepr``)."""
    found = _JOB_ID.search(message) if message else None
    return found.group(0) if found else None


def queued_jobs(
    queues: Sequence[str], per_queue: int, heads: Sequence[str | None]
) -> list[tuple[str, str]]:
    """``(queue, job id)`` of every list's next message; ``heads`` holds ``per_queue``
    replies per queue, in the order of ``queues``."""
    wanted = [(queues[i // per_queue], next_job_id(head)) for i, head in enumerate(heads)]
    return [(queue, job_id) for queue, job_id in wanted if job_id]


def oldest_ages(
    found: Sequence[tuple[str, str]],
    records: Sequence[Sequence[str | None]],
    now: float,
) -> dict[str, float]:
    """Per queue, the longest wait among its lists' next jobs; ``records`` holds the
    :data:`RECORD_FIELDS` of each job in ``found``. Queues left out are empty."""
    ages: dict[str, float] = {}
    for (queue, _), (updated, created) in zip(found, records, strict=True):
        at = updated or created
        if at is not None:
            ages[queue] = max(ages.get(queue, 0.0), max(0.0, now - float(at)))
    return ages
