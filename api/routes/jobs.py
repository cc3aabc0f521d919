"""The native jobs API: submit, inspect and wait for jobs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import Field
from sse_starlette import EventSourceResponse

from api.auth import admit
from api.bodies import StrictJsonRoute
from api.deps import StateDep, TenantDep
from api.errors import ApiError
from api.events import wait_for_finish
from api.models import backend_model_name, resolve_model
from api.schemas import (
    JOB_EVENT,
    SUBMITTED_JOB_LINKS,
    JobAccepted,
    JobSubmit,
    JobView,
    error_responses,
    event_stream,
    links_for,
)
from api.streams import event_stream_response, job_events
from laneway import keys
from laneway.jobs import Job, JobStatus
from producer import Submission
from producer.submit import MAX_IDEMPOTENCY_KEY_LENGTH, is_job_id

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=StrictJsonRoute)

_READ_ERRORS = error_responses(401, 404, 500, 503)


class JobDetail(JobView):
    """A job record as the API shows it, content retention included.

    (To fold into ``JobView`` in api/schemas.py, which another change is editing.)
    """

    request: dict[str, Any] | None = Field(  # type: ignore[assignment]
        description="the request as submitted; null once the content expired"
    )
    content_expired: bool = Field(
        description="true once the job's prompt, result and token stream are no longer kept: "
        "content_ttl_seconds after it finished (at once with store_content: false); "
        "its metadata stays for job_ttl_seconds"
    )


async def owned_job(state: StateDep, tenant: str, job_id: str) -> Job:
    # An id of another shape names no job: answered without asking Redis (where
    # "<id>:events" would name a key of another type).
    job = await state.store.get(job_id) if is_job_id(job_id) else None
    if job is None or job.tenant != tenant:
        raise ApiError(404, f"job {job_id} not found", param="job_id", code="job_not_found")
    return job


@router.post(
    "",
    status_code=202,
    response_model=JobAccepted,
    responses={
        202: {"links": SUBMITTED_JOB_LINKS},
        **error_responses(400, 401, 404, 409, 413, 422, 429, 500, 503),
    },
)
async def submit_job(
    body: JobSubmit,
    request: Request,
    state: StateDep,
    tenant: TenantDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=MAX_IDEMPOTENCY_KEY_LENGTH)] = None,
) -> JobAccepted:
    """Accept an OpenAI chat-completions or completions request as a durable job.

    ``model`` may force a lane (``laneway/<lane>``) or name a backend model, whose
    backends are then preferred; ``route`` forces a lane explicitly.
    """
    model_lane = resolve_model(body.model, state.settings)
    submission = Submission(
        tenant=tenant,
        kind=body.kind,
        request=body.backend_request(),
        route=body.route or model_lane,
        priority=body.priority,
        idempotency_key=body.idempotency_key or idempotency_key,
        prefer_model=backend_model_name(body.model),
    )
    submission = await admit(request, submission)
    created = await state.producer.submit(submission)
    links = links_for(created.job_id)
    response.headers["Location"] = links.self
    if not created.created:
        job = await owned_job(state, tenant, created.job_id)
        return JobAccepted(id=job.id, status=job.status, lane=job.lane, created=False, links=links)
    return JobAccepted(
        id=created.job_id,
        status=JobStatus.ROUTED if submission.route else JobStatus.QUEUED,
        lane=submission.route,
        created=True,
        links=links,
    )


@router.get(
    "/{job_id}", response_model=JobDetail, responses=error_responses(401, 404, 422, 500, 503)
)
async def get_job(
    job_id: str,
    state: StateDep,
    tenant: TenantDep,
    wait: Annotated[
        float, Query(ge=0, description="seconds to wait for the job to finish (long poll)")
    ] = 0,
) -> JobView:
    """A job's record: status, lane and why, every attempt, the result and usage."""
    job = await owned_job(state, tenant, job_id)
    if wait > 0 and not job.status.finished:
        timeout = min(wait, state.settings.api.wait_timeout_seconds)
        job = await wait_for_finish(state.store, job_id, timeout) or job
    return JobDetail.of(job)


@router.delete("/{job_id}", response_model=JobDetail, responses=_READ_ERRORS)
async def cancel_job(job_id: str, state: StateDep, tenant: TenantDep) -> JobView:
    """Cancel a job: a queued one never reaches a backend, a running one's call is closed.

    A job that already finished is left as it is (and returned as it is).
    """
    await owned_job(state, tenant, job_id)
    await state.store.cancel(job_id)
    return JobDetail.of(await owned_job(state, tenant, job_id))


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "the job's events, as server-sent events",
            "content": event_stream(JOB_EVENT),
        },
        **error_responses(400, 401, 404, 500, 503),
    },
)
async def job_event_stream(
    job_id: str,
    state: StateDep,
    tenant: TenantDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Server-sent events: ``status`` changes and ``chunks`` of tokens, ending with the
    final status. Reconnect with ``Last-Event-ID`` to resume without loss or repetition.
    """
    after = _stream_position(last_event_id)
    job = await owned_job(state, tenant, job_id)

    async def events() -> AsyncIterator[dict[str, str]]:
        if job.content_expired and not await state.redis.exists(keys.events(job_id)):
            # the stream went with the job's content: its end is all there is to say
            ended = {"status": job.status.value, "content_expired": True}
            yield {"data": json.dumps(ended, separators=(",", ":")), "event": "status"}
            return
        async for event in job_events(state.redis, job_id, after=after):
            data = json.dumps(event.data, separators=(",", ":"))
            yield {"data": data, "event": event.type, "id": event.id}

    return event_stream_response(events())


_STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_MAX_U64 = 2**64 - 1


def _stream_position(last_event_id: str | None) -> str:
    """Where a reconnecting client's events resume: after the id it saw last, a Redis
    stream id (two unsigned 64-bit integers); from the start without one."""
    if not last_event_id:
        return "0-0"
    match = _STREAM_ID.fullmatch(last_event_id)
    if match is None or any(int(part) > _MAX_U64 for part in match.groups()):
        raise ApiError(
            400,
            "Last-Event-ID must be an event id this stream sent: '<ms>-<seq>', two unsigned "
            "64-bit integers",
            param="Last-Event-ID",
            code="invalid_value",
        )
    return last_event_id
