"""The native jobs API: submit, inspect and wait for jobs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette import EventSourceResponse

from api.auth import admit
from api.deps import StateDep, TenantDep
from api.errors import ApiError, error_body
from api.events import wait_for_finish
from api.models import backend_model_name, resolve_model
from api.schemas import JobAccepted, JobSubmit, JobView, links_for
from api.streams import event_stream_response, job_events
from laneway.jobs import Job, JobStatus
from producer import Submission

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_ERRORS = {
    401: {
        "description": "missing or invalid API key",
        "content": {"application/json": {"example": error_body(401, "missing or invalid API key")}},
    },
    404: {
        "description": "no such job (or not yours)",
        "content": {"application/json": {"example": error_body(404, "job not found")}},
    },
    422: {
        "description": "invalid body; the message names the field",
        "content": {
            "application/json": {"example": error_body(422, "messages: Field required", "messages")}
        },
    },
}


async def owned_job(state: StateDep, tenant: str, job_id: str) -> Job:
    job = await state.store.get(job_id)
    if job is None or job.tenant != tenant:
        raise ApiError(404, f"job {job_id} not found", param="job_id", code="job_not_found")
    return job


@router.post("", status_code=202, response_model=JobAccepted, responses=_ERRORS)  # type: ignore[arg-type]
async def submit_job(
    body: JobSubmit,
    request: Request,
    state: StateDep,
    tenant: TenantDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
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


@router.get("/{job_id}", response_model=JobView, responses=_ERRORS)  # type: ignore[arg-type]
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
    return JobView.of(job)


@router.delete("/{job_id}", response_model=JobView, responses=_ERRORS)  # type: ignore[arg-type]
async def cancel_job(job_id: str, state: StateDep, tenant: TenantDep) -> JobView:
    """Cancel a job: a queued one never reaches a backend, a running one's call is closed.

    A job that already finished is left as it is (and returned as it is).
    """
    await owned_job(state, tenant, job_id)
    await state.store.cancel(job_id)
    return JobView.of(await owned_job(state, tenant, job_id))


@router.get("/{job_id}/events", responses=_ERRORS)  # type: ignore[arg-type]
async def job_event_stream(
    job_id: str,
    state: StateDep,
    tenant: TenantDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Server-sent events: ``status`` changes and ``chunks`` of tokens, ending with the
    final status. Reconnect with ``Last-Event-ID`` to resume without loss or repetition.
    """
    await owned_job(state, tenant, job_id)
    after = last_event_id if last_event_id and _STREAM_ID.fullmatch(last_event_id) else "0-0"

    async def events() -> AsyncIterator[dict[str, str]]:
        async for event in job_events(state.redis, job_id, after=after):
            data = json.dumps(event.data, separators=(",", ":"))
            yield {"data": data, "event": event.type, "id": event.id}

    return event_stream_response(events())


_STREAM_ID = re.compile(r"\d+-\d+")
