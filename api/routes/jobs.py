"""The native jobs API: submit, inspect and wait for jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.deps import StateDep, TenantDep
from api.errors import ApiError, error_body
from api.events import wait_for_finish
from api.schemas import JobAccepted, JobSubmit, JobView, links_for
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
    state: StateDep,
    tenant: TenantDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobAccepted:
    """Accept an OpenAI chat-completions or completions request as a durable job."""
    submission = Submission(
        tenant=tenant,
        kind=body.kind,
        request=body.backend_request(),
        route=body.route,
        priority=body.priority,
        idempotency_key=body.idempotency_key or idempotency_key,
    )
    created = await state.producer.submit(submission)
    links = links_for(created.job_id)
    response.headers["Location"] = links.self
    if not created.created:
        job = await owned_job(state, tenant, created.job_id)
        return JobAccepted(id=job.id, status=job.status, lane=job.lane, created=False, links=links)
    return JobAccepted(
        id=created.job_id,
        status=JobStatus.ROUTED if body.route else JobStatus.QUEUED,
        lane=body.route,
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
        job = await wait_for_finish(state.redis, state.store, job_id, timeout) or job
    return JobView.of(job)
