"""OpenAI's Files API: upload a batch input file, read, list and delete files."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, cast

import anyio
from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from api.batch.driver import storage_name
from api.batch.records import BatchRecords, file_object, new_file_id
from api.batch.schemas import FileDeleted, FileList, FileObject
from api.deps import ApiState, StateDep, TenantDep
from api.errors import ApiError
from api.schemas import error_responses
from laneway import keys
from laneway.filestore import CHUNK_BYTES

router = APIRouter(prefix="/v1/files", tags=["files"])

UPLOAD_PURPOSES = ("batch",)
MAX_FILENAME = 255


def _not_found(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="id", code="file_not_found")


async def owned_file(state: ApiState, tenant: str, file_id: str) -> dict[str, str]:
    record = await BatchRecords(state.redis).file(tenant, file_id)
    if record is None:
        raise _not_found(file_id)
    return record


@router.post("", response_model=FileObject, responses=error_responses(400, 401, 413, 500, 503))
async def upload_file(
    state: StateDep,
    tenant: TenantDep,
    file: Annotated[UploadFile, File(description="a JSONL file of batch requests")],
    purpose: Annotated[str, Form()],
) -> dict[str, Any]:
    """Upload a file (``purpose=batch``); its bytes go to the file storage in chunks."""
    if purpose not in UPLOAD_PURPOSES:
        raise ApiError(
            400,
            f"purpose must be one of {', '.join(UPLOAD_PURPOSES)}, not {purpose!r}",
            param="purpose",
            code="invalid_value",
        )
    file_id = new_file_id()
    limit = state.settings.batch.max_file_bytes
    storage = state.storage

    def copy() -> int:
        size = 0
        with storage.writer(storage_name(file_id)) as target:
            while chunk := file.file.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        413,
                        f"the file is over {limit} bytes (batch.max_file_bytes)",
                        param="file",
                        code="file_too_large",
                    )
                target.write(chunk)
        return size

    size = await anyio.to_thread.run_sync(copy)
    record = {
        "id": file_id,
        "tenant": tenant,
        "filename": (file.filename or "upload.jsonl")[:MAX_FILENAME],
        "purpose": purpose,
        "bytes": size,
        "created_at": time.time(),
    }
    await BatchRecords(state.redis).add_file(record)
    return file_object({k: str(v) for k, v in record.items()})


@router.get("", response_model=FileList, responses=error_responses(401, 500, 503))
async def list_files(
    state: StateDep,
    tenant: TenantDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> dict[str, Any]:
    """The tenant's files, newest first unless ``order=asc``; ``after`` pages on."""
    records = await BatchRecords(state.redis).files(tenant)
    if order == "desc":
        records.reverse()
    if purpose:
        records = [r for r in records if r["purpose"] == purpose]
    return page([file_object(r) for r in records], after, limit)


def page(objects: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """OpenAI's cursor page: the objects after the one named ``after``."""
    if after is not None:
        ids = [o["id"] for o in objects]
        objects = objects[ids.index(after) + 1 :] if after in ids else []
    data = objects[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(objects) > limit,
    }


@router.get("/{file_id}", response_model=FileObject, responses=error_responses(401, 404, 500, 503))
async def retrieve_file(file_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    return file_object(await owned_file(state, tenant, file_id))


@router.get(
    "/{file_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(401, 404, 500, 503),
    },
)
async def file_content(file_id: str, state: StateDep, tenant: TenantDep) -> StreamingResponse:
    """The file's bytes, streamed from the file storage."""
    await owned_file(state, tenant, file_id)
    name = storage_name(file_id)
    if not await anyio.to_thread.run_sync(state.storage.exists, name):
        raise _not_found(file_id)
    return StreamingResponse(
        iterate_in_threadpool(state.storage.read_chunks(name)),
        media_type="application/octet-stream",
    )


@router.delete(
    "/{file_id}", response_model=FileDeleted, responses=error_responses(401, 404, 409, 500, 503)
)
async def delete_file(file_id: str, state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    """Delete the file; refused (409) while an unfinished batch reads it."""
    await owned_file(state, tenant, file_id)
    open_batches = cast(set[str], await state.redis.smembers(keys.tenant_open_batches(tenant)))
    for batch_id in open_batches:
        if await state.redis.hget(keys.batch(batch_id), "input_file_id") == file_id:
            raise ApiError(
                409,
                f"file {file_id} is the input of batch {batch_id}, which has not finished",
                param="id",
                code="file_in_use",
            )
    await BatchRecords(state.redis).delete_file(tenant, file_id)
    await anyio.to_thread.run_sync(state.storage.delete, storage_name(file_id))
    return {"id": file_id, "object": "file", "deleted": True}
