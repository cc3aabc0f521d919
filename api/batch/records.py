"""Files and batches as Redis records, and the objects OpenAI's API shows for them.

A file's record names the object holding its bytes in :class:`FileStorage`; a
batch's record is OpenAI's Batch object plus its driver's progress (the input
offset of the next line to submit, the lines in flight, the result parts
written). Every change of a batch is one Lua script: a status moves only from
the states it may move from, and the driver's progress is written only while
it holds the driver lease (a second driver, after a lost lease, writes nothing).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis

from laneway import keys
from laneway.store import dumps, flatten

FILE_ID_PREFIX = "file-"
BATCH_ID_PREFIX = "batch_"

OPEN_STATUSES = ("validating", "in_progress", "finalizing", "cancelling")
FINAL_STATUSES = ("completed", "failed", "expired", "cancelled")
STATUSES = (*OPEN_STATUSES, *FINAL_STATUSES)

BATCH_TIMES = (
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def new_file_id() -> str:
    return f"{FILE_ID_PREFIX}{uuid.uuid4().hex}"


def new_batch_id() -> str:
    return f"{BATCH_ID_PREFIX}{uuid.uuid4().hex}"


def is_file_id(value: str) -> bool:
    return value.startswith(FILE_ID_PREFIX) and len(value) <= 100 and value.isascii()


def is_batch_id(value: str) -> bool:
    return value.startswith(BATCH_ID_PREFIX) and len(value) <= 100 and value.isascii()


def file_object(record: Mapping[str, str]) -> dict[str, Any]:
    """OpenAI's File object."""
    return {
        "id": record["id"],
        "object": "file",
        "bytes": int(record["bytes"]),
        "created_at": int(float(record["created_at"])),
        "filename": record["filename"],
        "purpose": record["purpose"],
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def batch_object(record: Mapping[str, str]) -> dict[str, Any]:
    """OpenAI's Batch object."""
    errors = json.loads(record["errors"]) if record.get("errors") else None
    return {
        "id": record["id"],
        "object": "batch",
        "endpoint": record["endpoint"],
        "errors": {"object": "list", "data": errors} if errors is not None else None,
        "input_file_id": record["input_file_id"],
        "completion_window": record["completion_window"],
        "status": record["status"],
        "output_file_id": record.get("output_file_id") or None,
        "error_file_id": record.get("error_file_id") or None,
        **{name: int(float(record[name])) if record.get(name) else None for name in BATCH_TIMES},
        "request_counts": {
            "total": int(record.get("total") or 0),
            "completed": int(record.get("completed") or 0),
            "failed": int(record.get("failed") or 0),
        },
        "metadata": json.loads(record["metadata"]) if record.get("metadata") else None,
    }


# Create a batch unless its tenant has max_open_batches open already.
# KEYS: batch, tenant batches, tenant open batches, open batches, statuses
# ARGV: batch id, created_at, max open, field, value, ...
_CREATE = """
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], 'validating')
return 1
"""

# Move a batch to a status, only from the statuses listed; a final status takes it
# off the open sets. With a driver token, only while that token holds the lease.
# KEYS: batch, statuses, open batches, tenant open batches, driver lease
# ARGV: batch id, new status, from statuses (space separated), final (0/1), token,
#       field, value, ...
# Returns the status the batch had ('' for none, or a lost lease); it moved only if
# that status was allowed.
_TRANSITION = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return ''
end
if ARGV[5] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[5] then
  return ''
end
if not string.find(' ' .. ARGV[3] .. ' ', ' ' .. status .. ' ', 1, true) then
  return status
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], unpack(ARGV, 6))
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('SREM', KEYS[4], ARGV[1])
end
return status
"""

# The driver's progress, in one step: lines submitted (now in flight), lines
# finished (out of flight, counted, their results in a part), the input offset.
# Refused (0) unless the driver still holds the lease.
# KEYS: batch, inflight, parts, stats, driver lease
# ARGV: token, part ('' for none), completed, failed, #added, job, entry, ...,
#       #removed, job, ..., field, value, ...
_ADVANCE = """
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return 0
end
local i = 5
local added = tonumber(ARGV[i])
if added > 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, i + 1, i + 2 * added))
end
i = i + 2 * added + 1
local removed = tonumber(ARGV[i])
if removed > 0 then
  redis.call('HDEL', KEYS[2], unpack(ARGV, i + 1, i + removed))
end
i = i + removed + 1
if ARGV[2] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[2])
end
local completed, failed = tonumber(ARGV[3]), tonumber(ARGV[4])
if completed > 0 then
  redis.call('HINCRBY', KEYS[1], 'completed', completed)
  redis.call('HINCRBY', KEYS[4], 'batch_lines|succeeded', completed)
end
if failed > 0 then
  redis.call('HINCRBY', KEYS[1], 'failed', failed)
  redis.call('HINCRBY', KEYS[4], 'batch_lines|failed', failed)
end
if ARGV[i] then
  redis.call('HSET', KEYS[1], unpack(ARGV, i))
end
return 1
"""


@dataclass
class Progress:
    """One step of a batch's driver, written at once by :meth:`BatchRecords.advance`."""

    submitted: dict[str, str] = field(default_factory=dict)
    """Job id -> '<line> <custom_id>' of lines now in flight."""
    finished: list[str] = field(default_factory=list)
    """Job ids of lines whose results are in ``part``."""
    part: str = ""
    completed: int = 0
    failed: int = 0
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.submitted or self.finished or self.part or self.fields)


class BatchRecords:
    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)
        self._advance = client.register_script(_ADVANCE)

    # files

    async def add_file(self, record: Mapping[str, Any]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.file(record["id"]), mapping={k: str(v) for k, v in record.items()})
            pipe.zadd(keys.tenant_files(record["tenant"]), {record["id"]: record["created_at"]})
            await pipe.execute()

    async def file(self, tenant: str, file_id: str) -> dict[str, str] | None:
        """The tenant's file, or None (another tenant's file is none of theirs)."""
        if not is_file_id(file_id):
            return None
        record = cast(dict[str, str], await self.redis.hgetall(keys.file(file_id)))
        return record if record and record.get("tenant") == tenant else None

    async def files(self, tenant: str) -> list[dict[str, str]]:
        """The tenant's files, oldest first."""
        ids = cast(list[str], await self.redis.zrange(keys.tenant_files(tenant), 0, -1))
        return await self._records(keys.file, ids)

    async def delete_file(self, tenant: str, file_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.file(file_id))
            pipe.zrem(keys.tenant_files(tenant), file_id)
            await pipe.execute()

    async def _records(self, key: Any, ids: Sequence[str]) -> list[dict[str, str]]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for item in ids:
                pipe.hgetall(key(item))
            found = cast(list[dict[str, str]], await pipe.execute())
        return [record for record in found if record]

    # batches

    async def create_batch(self, record: Mapping[str, Any], max_open: int) -> bool:
        """False (nothing written) when the tenant has ``max_open`` batches open."""
        batch_id, tenant = record["id"], record["tenant"]
        created = await self._create(
            keys=[
                keys.batch(batch_id),
                keys.tenant_batches(tenant),
                keys.tenant_open_batches(tenant),
                keys.OPEN_BATCHES,
                keys.BATCH_STATUSES,
            ],
            args=[batch_id, str(record["created_at"]), str(max_open), *flatten(record)],
        )
        return bool(created)

    async def batch(self, batch_id: str, tenant: str | None = None) -> dict[str, str] | None:
        """The batch (only if it is ``tenant``'s, when given)."""
        if not is_batch_id(batch_id):
            return None
        record = cast(dict[str, str], await self.redis.hgetall(keys.batch(batch_id)))
        if not record or (tenant is not None and record.get("tenant") != tenant):
            return None
        return record

    async def batches(self, tenant: str) -> list[dict[str, str]]:
        """The tenant's batches, newest first."""
        ids = cast(list[str], await self.redis.zrevrange(keys.tenant_batches(tenant), 0, -1))
        return await self._records(keys.batch, ids)

    async def open_batches(self) -> list[str]:
        return cast(list[str], await self.redis.zrange(keys.OPEN_BATCHES, 0, -1))

    async def transition(
        self,
        record: Mapping[str, str],
        status: str,
        allowed_from: Sequence[str],
        token: str = "",
        **fields: Any,
    ) -> bool:
        """Move the batch to ``status`` (stamping ``<status>_at``) if it is in one of
        ``allowed_from``; False if it was not (or ``token`` lost the lease)."""
        now = time.time()
        stamp = f"{status}_at"
        if stamp in BATCH_TIMES:
            fields = {stamp: now, **fields}
        before = await self._transition(
            keys=[
                keys.batch(record["id"]),
                keys.BATCH_STATUSES,
                keys.OPEN_BATCHES,
                keys.tenant_open_batches(record["tenant"]),
                keys.BATCH_DRIVER,
            ],
            args=[
                record["id"],
                status,
                " ".join(allowed_from),
                "1" if status in FINAL_STATUSES else "0",
                token,
                *flatten(fields),
            ],
        )
        return before in allowed_from

    async def advance(self, batch_id: str, token: str, progress: Progress) -> bool:
        """Write one step of the driver; False (nothing written) without the lease."""
        added = [x for pair in progress.submitted.items() for x in pair]
        args = [
            token,
            progress.part,
            str(progress.completed),
            str(progress.failed),
            str(len(progress.submitted)),
            *added,
            str(len(progress.finished)),
            *progress.finished,
            *flatten(progress.fields),
        ]
        done = await self._advance(
            keys=[
                keys.batch(batch_id),
                keys.batch_inflight(batch_id),
                keys.batch_parts(batch_id),
                keys.STATS,
                keys.BATCH_DRIVER,
            ],
            args=args,
        )
        return bool(done)

    async def inflight(self, batch_id: str) -> dict[str, str]:
        return cast(dict[str, str], await self.redis.hgetall(keys.batch_inflight(batch_id)))

    async def parts(self, batch_id: str) -> list[str]:
        return cast(list[str], await self.redis.lrange(keys.batch_parts(batch_id), 0, -1))


def json_line(value: Any) -> bytes:
    return dumps(value).encode() + b"\n"
