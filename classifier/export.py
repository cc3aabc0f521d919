"""Finished jobs as labelled examples (``laneway classify export``).

A row is written for every job that **succeeded** and whose prompt is still kept (a
finished job's content expires after ``content_ttl_seconds``). Its label is the lane
that answered it: the job record's final ``lane``, which is the routed lane, or the lane
a spill-over or fallback moved it to. A request some lane served successfully is known
to fit that lane; a failed or cancelled job says nothing about where it belonged, so it
is left out.

The label is only as good as the decision behind it: a job the classifier routed
(``decided_by`` is its strategy) carries the classifier's own answer, and retraining on
it unchanged teaches the classifier nothing new; a job its client routed
(``decided_by: route``) carries the client's choice. Each row says which, with the
classifier's confidence and the lanes tried, so rows can be reviewed and corrected
before ``laneway classify train``; ``client_routed_only`` keeps only the client's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import redis

from laneway import keys
from laneway.jobs import Job, JobStatus
from laneway.store import JobStore

EXPORT_GROUP = "jobs"
CLIENT_ROUTED = "route"
"""``Job.strategy`` of a job its client routed (``"route"`` in the submission)."""


def finished_jobs(client: redis.Redis, tenant: str | None = None) -> Iterator[Job]:
    """Finished jobs of ``tenant`` (every tenant when None) in their tenants' job indexes,
    oldest first per tenant. ``client`` must decode responses (``decode_responses=True``),
    as the job store's clients do."""
    store = JobStore(client, ttl=0)
    if tenant is not None:
        indexes = [keys.tenant_jobs(tenant)]
    else:
        pattern = keys.tenant_jobs("*")
        indexes = sorted(str(k) for k in client.scan_iter(match=pattern, count=500))
    for index in indexes:
        for job_id in client.zrange(index, 0, -1):
            job = store.get(str(job_id))
            if job is not None and job.status.finished:
                yield job


def export_row(job: Job) -> dict[str, Any] | None:
    """The labelled example of ``job``, or None when it cannot be one."""
    if job.status is not JobStatus.SUCCEEDED or job.request is None or job.lane is None:
        return None
    return {
        "request": job.request,
        "lane": job.lane,
        "group": EXPORT_GROUP,
        "job_id": job.id,
        "tenant": job.tenant,
        "decided_by": job.strategy,
        "confidence": job.confidence,
        "lanes_tried": list(dict.fromkeys(a.lane for a in job.attempts)),
    }


def export_lines(jobs: Iterator[Job], client_routed_only: bool = False) -> Iterator[str]:
    for job in jobs:
        row = export_row(job)
        if row is None or (client_routed_only and row["decided_by"] != CLIENT_ROUTED):
            continue
        yield json.dumps(row, ensure_ascii=False)
