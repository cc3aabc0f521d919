"""OpenAI's Batch API: run a file of requests through the lanes at low priority."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.batch.records import BatchRecords, batch_object, new_batch_id
from api.batch.schemas import BatchList, BatchObject
from api.batch.validation import ENDPOINTS
from api.bodies import StrictJsonRoute
from api.deps import ApiState, PrincipalDep, StateDep, TenantDep
from api.errors import ApiError
from api.routes.files import owned_file, page
from api.schemas import error_responses

router = APIRouter(prefix="/v1/batches", tags=["batches"], route_class=StrictJsonRoute)

Metadata = dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]]


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: Annotated[Metadata, Field(max_length=16)] | None = None


def _not_found(batch_id: str) -> ApiError:
    return ApiError(404, f"No such Batch object: {batch_id}", param="id", code="batch_not_found")


async def owned_batch(state: ApiState, tenant: str, batch_id: str) -> dict[str, str]:
    record = await BatchRecords(state.redis).batch(batch_id, tenant)
    if record is None:
        raise _not_found(batch_id)
    return record


@router.post(
    "", response_model=BatchObject, responses=error_responses(400, 401, 404, 429, 500, 503)
)
async def create_batch(
    body: BatchCreate, state: StateDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Create a batch from an uploaded ``purpose=batch`` file. It is validated first
    (status ``validating``), then its lines run as low-priority jobs."""
    if body.endpoint not in ENDPOINTS:
        raise ApiError(
            400,
            f"endpoint must be one of {', '.join(ENDPOINTS)}",
            param="endpoint",
            code="invalid_value",
        )
    windows = state.settings.batch.completion_windows
    if body.completion_window not in windows:
        raise ApiError(
            400,
            f"completion_window must be one of {', '.join(windows)}",
            param="completion_window",
            code="invalid_value",
        )
    tenant = principal.tenant
    input_file = await owned_file(state, tenant, body.input_file_id)
    if input_file["purpose"] != "batch":
        raise ApiError(
            400,
            f"file {body.input_file_id} was uploaded with purpose {input_file['purpose']!r}, "
            "not 'batch'",
            param="input_file_id",
            code="invalid_value",
        )
    now = time.time()
    record: dict[str, Any] = {
        "id": new_batch_id(),
        "tenant": tenant,
        "endpoint": body.endpoint,
        "input_file_id": body.input_file_id,
        "completion_window": body.completion_window,
        "status": "validating",
        "created_at": now,
        "expires_at": now + windows[body.completion_window],
        "total": 0,
        "completed": 0,
        "failed": 0,
        "offset": 0,
        "next_line": 0,
        "metadata": json.dumps(body.metadata) if body.metadata is not None else None,
        "lanes": ",".join(principal.lanes) if principal.lanes is not None else None,
    }
    limit = state.settings.batch.max_open_batches
    if not await BatchRecords(state.redis).create_batch(record, limit):
        raise ApiError(
            429,
            f"this tenant has {limit} batches that have not finished (batch.max_open_batches); "
            "wait for one to finish or cancel one",
            code="too_many_open_batches",
        )
    state.batch_driver.wake.set()
    return batch_object({k: str(v) for k, v in record.items() if v is not None})


@router.get("", response_model=BatchList, responses=error_responses(401, 500, 503))
async def list_batches(
    state: StateDep,
    tenant: TenantDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The tenant's batches, newest first; ``after`` pages on."""
    records = await BatchRecords(state.redis).batches(tenant)
    return page([batch_object(r) for r in records], after, limit)


@router.get(
    "/{batch_id}", response_model=BatchObject, responses=error_responses(401, 404, 500, 503)
)
async def retrieve_batch(batch_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    return batch_object(await owned_batch(state, tenant, batch_id))


@router.post(
    "/{batch_id}/cancel",
    response_model=BatchObject,
    responses=error_responses(401, 404, 409, 500, 503),
)
async def cancel_batch(batch_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    """Cancel: lines not yet started never run; finished ones stay in the output file.
    The batch is ``cancelling`` until its running lines end, then ``cancelled``."""
    record = await owned_batch(state, tenant, batch_id)
    records = BatchRecords(state.redis)
    moved = await records.transition(record, "cancelling", ("validating", "in_progress"))
    record = await owned_batch(state, tenant, batch_id)
    if not moved and record["status"] not in ("cancelling", "cancelled"):
        raise ApiError(
            409,
            f"Cannot cancel a batch with status '{record['status']}'",
            param="id",
            code="batch_not_cancellable",
        )
    state.batch_driver.wake.set()
    return batch_object(record)
