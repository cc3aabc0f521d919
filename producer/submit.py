"""Turning a validated request into a durable job and its first task."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from laneway.backpressure import placeable_lanes, queue_limits
from laneway.celery_app import CLASSIFY_TASK, RUN_TASK
from laneway.jobs import JobKind, JobStatus
from laneway.lanes import CLASSIFY_QUEUE, Lane, excluded_lanes, queue_for
from laneway.settings import Settings
from laneway.store import AsyncJobStore, Created, DepthLimits, Outcome
from laneway.wire import MessageFactory, Priority, QueuedMessage
from producer.admission import check_context


@dataclass(frozen=True, slots=True)
class Submission:
    tenant: str
    kind: JobKind
    request: dict[str, Any]
    route: Lane | None = None
    priority: Priority = "normal"
    idempotency_key: str | None = None
    prefer_model: str | None = None
    """A backend model the client asked for by name: its backends are tried first."""
    lanes: tuple[Lane, ...] | None = None
    """The lanes the job may go to (its API key's); ``None``: all."""
    deadline_at: float | None = None
    """When the job must be answered by; ``None``: ``retry.job_deadline_seconds`` from now
    (a batch's line has its batch's whole completion window)."""


MAX_IDEMPOTENCY_KEY_LENGTH = 200

JOB_ID = re.compile(r"job_[0-9a-f]{32}")
"""Every job id :func:`new_job_id` makes; anything else names no job."""

submitted_job: ContextVar[str | None] = ContextVar("submitted_job", default=None)
"""The job this context submitted last, so that an error log can name it."""


class InvalidSubmission(ValueError):
    """A submission the producer refuses before writing anything."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex}"


def is_job_id(value: str) -> bool:
    return JOB_ID.fullmatch(value) is not None


DELIVERY_FIELDS = frozenset({"stream", "stream_options"})
"""Request fields that say how the answer is delivered, not what is asked: a client
may replay a streamed request without streaming to fetch the same job's answer."""


def request_digest(submission: Submission) -> str:
    """A hash of everything that makes a submission what it is, idempotency key and
    delivery aside: a key reused with a different request is an error, not that job."""
    asked = {k: v for k, v in submission.request.items() if k not in DELIVERY_FIELDS}
    canonical = json.dumps(
        [
            submission.kind.value,
            asked,
            submission.route,
            submission.priority,
            submission.prefer_model,
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def plan(
    submission: Submission, messages: MessageFactory, deadline_seconds: float
) -> tuple[str, dict[str, Any], QueuedMessage]:
    """The job id, its initial hash fields and its first task message.

    A forced route skips the classifier: the job starts routed, on its lane.
    """
    job_id = new_job_id()
    now = time.time()
    fields: dict[str, Any] = {
        "id": job_id,
        "tenant": submission.tenant,
        "kind": submission.kind.value,
        "request": submission.request,
        "priority": submission.priority,
        "idempotency_key": submission.idempotency_key,
        "created_at": now,
        "updated_at": now,
        "deadline_at": submission.deadline_at or now + deadline_seconds,
        "deliveries": 0,
    }
    if submission.lanes is not None:
        fields["lanes"] = ",".join(submission.lanes)
    if submission.route is None:
        fields["status"] = JobStatus.QUEUED.value
        fields["queue"] = CLASSIFY_QUEUE
        lanes = (list(submission.lanes),) if submission.lanes is not None else ()
        message = messages.build(
            CLASSIFY_TASK,
            (job_id, submission.request, submission.priority, *lanes),
            CLASSIFY_QUEUE,
            priority=submission.priority,
            argsrepr=f"({job_id!r}, <request>, {submission.priority!r})",
        )
    else:
        queue = queue_for(submission.route)
        fields.update(
            status=JobStatus.ROUTED.value,
            lane=submission.route,
            queue=queue,
            confidence=1.0,
            strategy="route",
            reason="lane forced by the client",
            routed_at=now,
        )
        args: tuple[Any, ...] = (job_id,)
        if submission.prefer_model:
            args = (job_id, submission.prefer_model)
        if submission.lanes is not None:
            # lanes outside the key's count as tried: no fallback goes there
            outside = excluded_lanes(submission.lanes)
            args = (job_id, submission.prefer_model, outside, submission.priority)
        message = messages.build(RUN_TASK, args, queue, priority=submission.priority)
    return job_id, fields, message


def classify_deadline(fields: dict[str, Any], classify_timeout: float) -> float | None:
    """When the watchdog routes a still-unclassified job to ``general``."""
    if fields["status"] != JobStatus.QUEUED.value:
        return None
    return float(fields["created_at"]) + classify_timeout


class AsyncProducer:
    def __init__(self, store: AsyncJobStore, messages: MessageFactory, settings: Settings) -> None:
        self.store = store
        self.messages = messages
        self.settings = settings
        self.deadline_seconds = settings.retry.job_deadline_seconds
        self.classify_timeout = settings.classifier.unclassified_after_seconds
        self.content_ttl = settings.content_ttl_seconds if settings.store_content else 0
        """Kept on each job: how long its prompt and result outlive it (0: not at all)."""
        self.usage_ttl = settings.usage_retention_days * 86400
        """Kept on each job: how long the usage totals it adds to are kept (see usage.py)."""
        self.limits = queue_limits(settings)
        self.depth_limits = {queue: DepthLimits(limit) for queue, limit in self.limits.items()}
        """Backpressure: the deepest each queue may be for a submit to join it, and for a
        job to be classified, room in a lane it may go to."""
        self.placeable = placeable_lanes(settings)
        self.depth_limits[CLASSIFY_QUEUE] = self._classify_limits(self.placeable)

    def _classify_limits(self, lanes: Sequence[Lane]) -> DepthLimits:
        """A job to classify needs room in the classify queue and in one of ``lanes``."""
        room = {queue_for(lane): self.limits[queue_for(lane)] for lane in lanes}
        return DepthLimits(self.limits[CLASSIFY_QUEUE], room)

    def _prepare(self, submission: Submission) -> dict[str, Any]:
        """The store's arguments for a new job: its record, first task and limits.
        :class:`RequestRejected` for a request no backend can serve."""
        check_context(self.settings, submission.request)
        job_id, fields, message = plan(submission, self.messages, self.deadline_seconds)
        fields["content_ttl"] = self.content_ttl
        fields["usage_ttl"] = self.usage_ttl
        limits = self.depth_limits.get(message.queue)
        if submission.route is None and submission.lanes is not None:  # a lane-limited key's
            limits = self._classify_limits([x for x in self.placeable if x in submission.lanes])
        return {
            "job_id": job_id,
            "tenant": submission.tenant,
            "fields": fields,
            "message": message,
            "classify_deadline": classify_deadline(fields, self.classify_timeout),
            "limits": limits,
        }

    async def submit(self, submission: Submission) -> Created:
        """Write the job and its first task; :class:`QueueFull` when that queue is full,
        :class:`IdempotencyConflict` when its key named a different request."""
        key = submission.idempotency_key
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise InvalidSubmission(
                "Idempotency-Key",
                f"the idempotency key is longer than {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            )
        created = await self.store.create(
            **self._prepare(submission),
            idempotency_key=key,
            request_digest=request_digest(submission) if key else None,
        )
        submitted_job.set(created.job_id)
        return created

    async def submit_and_wait(
        self, submission: Submission, block_ms: int
    ) -> tuple[Created, Outcome | None]:
        """Submit and block up to ``block_ms`` for the outcome, in one Redis round trip.

        Without an idempotency key only (with one, the job may be an earlier one).
        """
        if submission.idempotency_key:
            raise ValueError("submit_and_wait takes no idempotency key")
        prepared = self._prepare(submission)
        submitted_job.set(prepared["job_id"])
        return await self.store.create_and_wait(**prepared, block_ms=block_ms)
