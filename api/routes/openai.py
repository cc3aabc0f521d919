"""The OpenAI-compatible front door: point an OpenAI client's base_url at laneway."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from api.auth import admit
from api.bodies import StrictJsonRoute
from api.deps import ApiState, StateDep, TenantDep
from api.errors import ApiError, error_body
from api.events import block_ms, wait_final
from api.models import backend_model_name, find_model, model_entries, model_object, resolve_model
from api.schemas import (
    OPENAI_RESPONSES,
    ChatCompletionRequest,
    CompletionRequest,
    error_responses,
)
from api.streams import event_stream_response, job_events, streaming_outcome
from laneway.jobs import JobKind, JobStatus, Usage
from laneway.store import Outcome
from producer import Submission

router = APIRouter(prefix="/v1", tags=["openai"], route_class=StrictJsonRoute)

JOB_HEADER = "x-laneway-job-id"
LANE_HEADER = "x-laneway-lane"
BACKEND_HEADER = "x-laneway-backend"


@router.get("/models")
async def list_models(state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    """``auto``, one ``laneway/<lane>`` per lane and every configured backend model."""
    return {"object": "list", "data": [model_object(e) for e in model_entries(state.settings)]}


@router.get("/models/{model:path}", responses=error_responses(401, 404, 500))
async def retrieve_model(model: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    """One of the models ``GET /v1/models`` lists; 404 ``model_not_found`` otherwise."""
    return model_object(find_model(model, state.settings))


@router.post("/chat/completions", response_model=None, responses=OPENAI_RESPONSES)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, state: StateDep, tenant: TenantDep
) -> Response | EventSourceResponse:
    """OpenAI chat completions, served as a laneway job."""
    return await _serve(body, JobKind.CHAT, request, state, tenant)


@router.post("/completions", response_model=None, responses=OPENAI_RESPONSES)
async def completions(
    body: CompletionRequest, request: Request, state: StateDep, tenant: TenantDep
) -> Response | EventSourceResponse:
    """OpenAI (legacy) completions, served as a laneway job."""
    return await _serve(body, JobKind.COMPLETION, request, state, tenant)


async def _serve(
    body: ChatCompletionRequest | CompletionRequest,
    kind: JobKind,
    request: Request,
    state: ApiState,
    tenant: str,
) -> Response | EventSourceResponse:
    lane = resolve_model(body.model, state.settings)
    submission = Submission(
        tenant=tenant,
        kind=kind,
        request=body.backend_request(),
        route=lane,
        prefer_model=backend_model_name(body.model),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    submission = await admit(request, submission)
    if body.stream:
        created = await state.producer.submit(submission)
        if not created.created:
            _check_kept(await _outcome(state, created.job_id))
        return await _stream(body, kind, created.job_id, created.event_id, state)
    timeout = state.settings.api.wait_timeout_seconds
    started = time.monotonic()
    outcome: Outcome | None = None
    if submission.idempotency_key:  # the job may be an earlier one: wait on its id
        created = await state.producer.submit(submission)
        if not created.created:
            earlier = await _outcome(state, created.job_id)
            if JobStatus(earlier.status).finished:  # its streams may be gone with its content
                outcome = _check_kept(earlier)
    else:
        created, outcome = await state.producer.submit_and_wait(submission, block_ms(timeout))
    job_id = created.job_id
    if outcome is None:
        remaining = timeout - (time.monotonic() - started)
        outcome = await wait_final(state.redis, job_id, remaining) or await _outcome(state, job_id)
    if outcome.status == JobStatus.SUCCEEDED and outcome.result:
        return Response(outcome.result, media_type="application/json", headers=_headers(outcome))
    raise job_error(outcome)


def _check_kept(job: Outcome) -> Outcome:
    """An earlier job's answer, unless it is no longer kept (content_ttl_seconds)."""
    if job.status == JobStatus.SUCCEEDED and not job.result:
        raise ApiError(
            410,
            f"the answer of job {job.job_id} (this idempotency key's) is no longer kept",
            code="content_expired",
            headers=_headers(job),
        )
    return job


async def _outcome(state: ApiState, job_id: str) -> Outcome:
    outcome = await state.store.outcome(job_id)
    if outcome is None:
        raise ApiError(500, f"job {job_id} expired or vanished")
    return outcome


def _headers(job: Outcome, backend: str | None = None) -> dict[str, str]:
    """``backend``: the one streaming the answer of a job that is still running."""
    headers = {JOB_HEADER: job.job_id, LANE_HEADER: job.lane or ""}
    backend = job.backend or backend
    if backend:
        headers[BACKEND_HEADER] = backend
    return headers


def job_error(job: Outcome) -> ApiError:
    """The error an OpenAI client gets for a job that did not succeed."""
    headers = _headers(job)
    status = JobStatus(job.status)
    if not status.finished:
        return ApiError(
            504,
            f"job {job.job_id} did not finish in time; it continues: GET /v1/jobs/{job.job_id}",
            code="timeout",
            headers=headers,
        )
    if status is JobStatus.CANCELLED:
        return ApiError(409, f"job {job.job_id} was cancelled", code="cancelled", headers=headers)
    message = job.error or "the job failed"
    if job.error_type == "queue_full":  # accepted, but every lane it could go to filled up
        return ApiError(429, message, code="queue_full", headers={**headers, "Retry-After": "1"})
    if job.error_type == "context_length":
        param = job.error_param or "messages"
        return ApiError(400, message, param=param, code="context_length_exceeded", headers=headers)
    if job.error_type == "fatal":
        return ApiError(
            400, message, param=job.error_param, code="backend_rejected", headers=headers
        )
    return ApiError(
        502, f"no backend could answer: {message}", code="upstream_error", headers=headers
    )


async def _stream(
    body: ChatCompletionRequest | CompletionRequest,
    kind: JobKind,
    job_id: str,
    after: str,
    state: ApiState,
) -> EventSourceResponse:
    # Hold the response until the first tokens (or the end): the headers can then
    # name the lane and backend, and a job that fails before answering gets a
    # proper HTTP error, which is what OpenAI clients expect.
    events = job_events(
        state.redis, job_id, after=after, timeout=state.settings.api.wait_timeout_seconds
    )
    first: list[Any] = []
    async for event in events:
        first.append(event)
        if event.type == "chunks" or event.final:
            break
    job, backend = await streaming_outcome(state.redis, job_id)
    if job is None:
        raise ApiError(500, f"job {job_id} expired or vanished")
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise job_error(job)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def chunks() -> AsyncIterator[str]:
        finished = False
        try:
            async for event in _chain(first, events):
                if event.type == "chunks":
                    for chunk in event.data:
                        yield json.dumps(chunk, separators=(",", ":"))
                elif event.final:
                    finished = True
                    final = await state.store.outcome(job_id)
                    if final is None or final.status != JobStatus.SUCCEEDED:
                        error = job_error(final) if final else ApiError(500, "job vanished")
                        yield json.dumps(
                            error_body(error.status_code, error.message, error.param, error.code)
                        )
                        return
                    if include_usage:
                        yield json.dumps(_usage_chunk(final, kind))
                    yield "[DONE]"
                    return
            # The wait ran out (api.wait_timeout_seconds) before the job finished:
            # say so; the job goes on and its result can still be fetched.
            finished = True
            late = job_error(await _outcome(state, job_id))
            yield json.dumps(error_body(late.status_code, late.message, late.param, late.code))
        finally:
            if not finished:
                # The client went away (or the stream broke): stop the job too.
                with anyio.CancelScope(shield=True):
                    await state.store.cancel(job_id)

    return event_stream_response(chunks(), headers=_headers(job, backend))


async def _chain(first: list[Any], rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    for event in first:
        yield event
    async for event in rest:
        yield event


def _usage_chunk(job: Outcome, kind: JobKind) -> dict[str, Any]:
    """The last chunk ``stream_options.include_usage`` asks for: no choices, the usage;
    id, created and model as in the chunks before it."""
    result = json.loads(job.result) if job.result else {}
    return {
        "id": result.get("id") or job.job_id,
        "object": "chat.completion.chunk" if kind is JobKind.CHAT else "text_completion",
        "created": result.get("created") or int(float(job.finished_at or time.time())),
        "model": result.get("model") or job.model or "",
        "choices": [],
        "usage": Usage.model_validate_json(job.usage or "{}").model_dump(),
    }
