"""The batch driver: runs every open batch, from validation to its output files.

It lives in the API process (which has the producer, and is what restarts
with the API): one asyncio task per open batch, in the one API process that
holds the driver lease in Redis (several API replicas drive each batch once).
Everything it knows is in Redis and in the file storage, so a new process
resumes where the last one stopped:

* ``offset`` / ``next_line`` on the batch: where the next unsubmitted line
  starts in the input file, and its index;
* ``laneway:batch:<id>:inflight``: the submitted, unfinished lines by job id;
* ``laneway:batch:<id>:parts``: result parts already written, each a file of
  finished lines with their input index; the output and error files are merged
  from them in input order.

A line is submitted with an idempotency key made of the batch id and its index,
so a line submitted just before a crash (and not yet recorded) gets the same job
when it is submitted again. A finished line's result goes into a new part file
first; only then does one script take it out of flight, count it and list the
part, so each line is in exactly one listed part. The batch's counts change in
that same script: they always equal the finished jobs' states.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import IO, Any, cast

import anyio
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from api.batch.records import FINAL_STATUSES, BatchRecords, Progress, json_line
from api.batch.validation import LineProblem, lines, parse_line, validate
from api.errors import error_body
from api.routes.openai import job_error
from laneway import keys
from laneway.filestore import FileStorage
from laneway.jobs import JobStatus
from laneway.lanes import Lane
from laneway.settings import Settings
from laneway.store import AsyncJobStore, IdempotencyConflict, Outcome, QueueFull, first_outcome
from producer import AsyncProducer, RequestRejected, Submission

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0
RENEW_SECONDS = 1.0
COLLECT_BLOCK_MS = 1000
SWEEP_SECONDS = 5.0
"""How often in-flight jobs are also looked up directly (a final stream can expire)."""

OUTPUT_FLAG = b"o"
ERROR_FLAG = b"e"
INDEX_DIGITS = 10
FAN_IN = 64
"""Parts merged at once when the output files are written (open files at a time)."""

Result = tuple[int, bool, dict[str, Any]]
"""A finished line: its index in the input, whether it succeeded, its output line."""


def part_line(result: Result) -> bytes:
    """A line of a part: flag, index, output line, so that parts merge in input order."""
    index, ok, line = result
    flag = OUTPUT_FLAG if ok else ERROR_FLAG
    return flag + str(index).zfill(INDEX_DIGITS).encode() + b" " + json_line(line)


def _part_order(raw: bytes) -> bytes:
    return raw[1 : 1 + INDEX_DIGITS]


# Take the lease, or renew it if it is ours. KEYS: lease; ARGV: token, ttl ms
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def output_file_id(batch_id: str, kind: str) -> str:
    """The id of a batch's output or error file: one per batch, so finalizing again
    after a crash writes the same file, not a second one."""
    return f"file-{batch_id.removeprefix('batch_')}-{kind}"


def storage_name(file_id: str) -> str:
    return f"files/{file_id}"


def _part_name(batch_id: str) -> str:
    return f"batches/{batch_id}/part-{uuid.uuid4().hex}.jsonl"


def _line_id() -> str:
    return f"batch_req_{uuid.uuid4().hex}"


def result_line(custom_id: str, outcome: Outcome) -> tuple[bool, dict[str, Any]]:
    """(succeeded, the line in OpenAI's batch output format) for a finished job."""
    if outcome.status == JobStatus.SUCCEEDED and outcome.result:
        response = {"status_code": 200, "request_id": outcome.job_id}
        return True, {
            "id": _line_id(),
            "custom_id": custom_id,
            "response": {**response, "body": json.loads(outcome.result)},
            "error": None,
        }
    if outcome.status == JobStatus.SUCCEEDED:
        error = job_error(outcome)
        error.status_code, error.code = 500, "result_expired"
        error.message = f"job {outcome.job_id} succeeded, but its result is no longer kept"
    else:
        error = job_error(outcome)
    body = error_body(error.status_code, error.message, error.param, error.code)
    return False, {
        "id": _line_id(),
        "custom_id": custom_id,
        "response": {"status_code": error.status_code, "request_id": outcome.job_id, "body": body},
        "error": {"code": error.code, "message": error.message},
    }


def unrun_line(custom_id: str | None, code: str, message: str) -> dict[str, Any]:
    return {
        "id": _line_id(),
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }


def _custom_id(raw: bytes) -> str | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    custom_id = value.get("custom_id") if isinstance(value, dict) else None
    return custom_id if isinstance(custom_id, str) else None


def fold_parts(
    storage: FileStorage, folder: str, parts: list[str], fan_in: int = FAN_IN
) -> list[str]:
    """At most ``fan_in`` parts holding the lines of ``parts``, each in input order
    (merged a group at a time into ``folder``: many parts are never all open at once)."""
    generation = 0
    while len(parts) > fan_in:
        merged = []
        for start in range(0, len(parts), fan_in):
            name = f"{folder}/merged-{generation}-{start}.jsonl"
            with storage.writer(name) as out, contextlib.ExitStack() as stack:
                group = parts[start : start + fan_in]
                readers = [stack.enter_context(storage.reader(p)) for p in group]
                out.writelines(heapq.merge(*readers, key=_part_order))
            merged.append(name)
        parts, generation = merged, generation + 1
    return parts


class LeaseLost(Exception):
    """Another API process drives the batches now: this one writes nothing more."""


class BatchDriver:
    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        store: AsyncJobStore,
        producer: AsyncProducer,
        storage: FileStorage,
    ) -> None:
        self.settings = settings
        self.redis = client
        self.store = store
        self.producer = producer
        self.storage = storage
        self.records = BatchRecords(client)
        self.token = uuid.uuid4().hex
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.wake = asyncio.Event()
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    # the lease and the tasks

    async def run(self) -> None:
        """Forever: hold the lease and keep one task per open batch."""
        while True:
            try:
                held = await self._hold(
                    keys=[keys.BATCH_DRIVER], args=[self.token, int(LEASE_SECONDS * 1000)]
                )
                if held:
                    for batch_id in await self.records.open_batches():
                        task = self.tasks.get(batch_id)
                        if task is None or task.done():
                            self.tasks[batch_id] = asyncio.create_task(self._drive(batch_id))
                else:
                    self._stop_tasks()
            except RedisError as exc:
                log.warning("batch driver: Redis error %r; trying again", exc)
            self.tasks = {k: t for k, t in self.tasks.items() if not t.done()}
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), RENEW_SECONDS)

    def _stop_tasks(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()

    async def close(self) -> None:
        self._stop_tasks()
        with contextlib.suppress(RedisError):
            await self._release(keys=[keys.BATCH_DRIVER], args=[self.token])

    async def _drive(self, batch_id: str) -> None:
        try:
            await self.drive(batch_id)
        except LeaseLost:
            log.info("batch %s: the driver lease moved to another process", batch_id)
        except FileNotFoundError as exc:  # the storage lost a file the batch needs
            log.error("batch %s: %s; the batch fails", batch_id, exc)
            await self._fail(batch_id, f"a file of the batch is missing from the storage: {exc}")
        except RedisError as exc:
            log.warning("batch %s: Redis error %r; resuming shortly", batch_id, exc)
            await asyncio.sleep(1)
        except Exception:
            log.exception("batch %s: unexpected error; resuming shortly", batch_id)
            await asyncio.sleep(5)

    # one batch

    async def drive(self, batch_id: str) -> None:
        last_sweep = 0.0
        while True:
            record = await self.records.batch(batch_id)
            if record is None or record["status"] in FINAL_STATUSES:
                return
            status = record["status"]
            if status == "validating":
                await self._validate(record)
                continue
            if status == "finalizing":
                await self._finalize(record, "completed", ("finalizing",))
                return
            inflight = await self.records.inflight(batch_id)
            sweep = time.monotonic() - last_sweep > SWEEP_SECONDS
            if sweep:
                last_sweep = time.monotonic()
            if status == "cancelling":
                await self._cancel_unstarted(inflight)
                await self._collect(record, inflight, COLLECT_BLOCK_MS, sweep)
                if not await self.records.inflight(batch_id):
                    await self._close(record, "cancelled", "batch_cancelled")
                    return
                continue
            if time.time() >= float(record["expires_at"]):
                for job_id in inflight:
                    await self.store.cancel(job_id)
                await self._collect(record, inflight, COLLECT_BLOCK_MS, sweep=True)
                if not await self.records.inflight(batch_id):
                    await self._close(record, "expired", "batch_expired")
                    return
                continue
            submitting = int(record["next_line"]) < int(record["total"])
            room = self.settings.batch.concurrency - len(inflight)
            block = 0 if submitting and room > 0 else COLLECT_BLOCK_MS
            inflight = await self._collect(record, inflight, block, sweep)
            if submitting and self.settings.batch.concurrency > len(inflight):
                if not await self._submit(record, self.settings.batch.concurrency - len(inflight)):
                    await asyncio.sleep(0.5)  # every queue it could join is full
            elif not submitting and not inflight:
                if await self.records.transition(
                    record, "finalizing", ("in_progress",), self.token
                ):
                    await self._finalize(record, "completed", ("finalizing",))
                return

    async def _validate(self, record: Mapping[str, str]) -> None:
        lanes = self._lanes(record)

        def check() -> Any:
            with self.storage.reader(storage_name(record["input_file_id"])) as handle:
                return validate(handle, record["endpoint"], self.settings, lanes)

        try:
            report = await anyio.to_thread.run_sync(check)
        except FileNotFoundError:
            errors = [
                {
                    "code": "file_not_found",
                    "message": f"the input file {record['input_file_id']} was deleted",
                    "param": "input_file_id",
                    "line": None,
                }
            ]
            await self.records.transition(
                record, "failed", ("validating",), self.token, errors=errors
            )
            return
        if report.error_count:
            errors = report.errors
            if report.error_count > len(errors):
                errors.append(
                    {
                        "code": "more_errors",
                        "message": f"{report.error_count - len(errors)} more errors not listed "
                        f"(batch.max_errors is {self.settings.batch.max_errors})",
                        "param": None,
                        "line": None,
                    }
                )
            await self.records.transition(
                record, "failed", ("validating",), self.token, errors=errors, total=report.total
            )
            return
        await self.redis.hset(keys.batch(record["id"]), "total", report.total)
        await self.records.transition(record, "in_progress", ("validating",), self.token)

    async def _fail(self, batch_id: str, message: str) -> None:
        record = await self.records.batch(batch_id)
        if record is None:
            return
        for job_id in await self.records.inflight(batch_id):
            await self.store.cancel(job_id)
        error = {"code": "file_not_found", "message": message, "param": None, "line": None}
        await self.records.transition(
            record, "failed", ("validating", "in_progress", "finalizing", "cancelling"),
            self.token, errors=[error],
        )  # fmt: skip

    def _lanes(self, record: Mapping[str, str]) -> tuple[Lane, ...] | None:
        lanes = record.get("lanes")
        return cast(tuple[Lane, ...], tuple(lanes.split(","))) if lanes else None

    async def _collect(
        self, record: Mapping[str, str], inflight: dict[str, str], block_ms: int, sweep: bool
    ) -> dict[str, str]:
        """Write the finished lines of ``inflight`` to a part; what is still in flight."""
        if not inflight:
            return inflight
        streams = {keys.final(job_id): "0-0" for job_id in inflight}
        reply = await self.redis.xread(
            streams,  # type: ignore[arg-type]
            count=1,
            block=block_ms or None,
        )
        finished: dict[str, Outcome] = {}
        for entry in cast(list[Any], reply or []):
            job_id = keys.job_id_of(str(entry[0]).removesuffix(":final"))
            outcome = first_outcome(job_id, [entry])
            if outcome is not None and JobStatus(outcome.status).finished:
                finished[job_id] = outcome
        if sweep:
            finished.update(await self._look_up(j for j in inflight if j not in finished))
        if not finished:
            return inflight
        results: list[Result] = []
        for job_id, outcome in finished.items():
            index, custom_id = inflight[job_id].split(" ", 1)
            results.append((int(index), *result_line(custom_id, outcome)))
        await self._commit(record, results, Progress(finished=list(finished)))
        return {j: entry for j, entry in inflight.items() if j not in finished}

    async def _look_up(self, job_ids: Iterable[str]) -> dict[str, Outcome]:
        """Finished jobs among ``job_ids`` found through their records (their final
        stream gone); a job whose record itself expired counts as failed."""
        ids = list(job_ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(keys.job(job_id), "status")
            statuses = await pipe.execute()
        found: dict[str, Outcome] = {}
        for job_id, status in zip(ids, statuses, strict=True):
            if status is not None and not JobStatus(status).finished:
                continue
            outcome = await self.store.outcome(job_id)
            if outcome is None:
                found[job_id] = Outcome(
                    job_id, "failed", None, None, None, "the job's record expired", None,
                    None, None, None, None,
                )  # fmt: skip
            elif JobStatus(outcome.status).finished:
                found[job_id] = outcome
        return found

    async def _commit(
        self,
        record: Mapping[str, str],
        results: list[Result],
        progress: Progress,
    ) -> None:
        """Write ``results`` as a new part, then record it with ``progress``."""
        if results:
            part = _part_name(record["id"])
            payload = b"".join(part_line(result) for result in sorted(results))

            def write() -> None:
                with self.storage.writer(part) as handle:
                    handle.write(payload)

            await anyio.to_thread.run_sync(write)
            progress.part = part
            progress.completed += sum(1 for _, ok, _ in results if ok)
            progress.failed += sum(1 for _, ok, _ in results if not ok)
        if not await self.records.advance(record["id"], self.token, progress):
            raise LeaseLost

    async def _read_lines(self, record: Mapping[str, str], count: int) -> list[tuple[int, bytes]]:
        """Up to ``count`` unsubmitted lines: (offset after it, line)."""

        def read() -> list[tuple[int, bytes]]:
            out: list[tuple[int, bytes]] = []
            with self.storage.reader(storage_name(record["input_file_id"])) as handle:
                for end, _, raw in lines(handle, int(record["offset"])):
                    out.append((end, raw))
                    if len(out) >= count:
                        break
            return out

        return await anyio.to_thread.run_sync(read)

    async def _submit(self, record: Mapping[str, str], room: int) -> int:
        """Submit up to ``room`` more lines; how many were taken (0: queues full)."""
        batch_id = record["id"]
        first = int(record["next_line"])
        read = await self._read_lines(record, room)
        lanes = self._lanes(record)
        deadline = self.settings.retry.job_deadline_seconds
        progress = Progress()
        rejected: list[Result] = []
        taken = 0
        # One line after another, in order: the offset stays a clean cut between the
        # lines submitted and those not, even when a queue fills up half way.
        for end, raw in read:
            index = first + taken
            try:
                line = parse_line(raw, record["endpoint"], self.settings, lanes)
                created = await self.producer.submit(
                    Submission(
                        tenant=record["tenant"],
                        kind=line.kind,
                        request=line.request,
                        route=line.lane,
                        priority="low",
                        idempotency_key=f"laneway-batch:{batch_id}:{index}",
                        prefer_model=line.prefer_model,
                        lanes=lanes,
                        # a line may wait behind interactive traffic for its whole window
                        deadline_at=max(float(record["expires_at"]), time.time() + deadline),
                    )
                )
            except QueueFull:
                break
            except LineProblem as exc:  # the configuration changed since validation
                rejected.append((index, False, unrun_line(_custom_id(raw), exc.code, exc.message)))
            except (RequestRejected, IdempotencyConflict) as exc:
                message = getattr(exc, "message", str(exc))
                rejected.append((index, False, unrun_line(_custom_id(raw), "rejected", message)))
            else:
                progress.submitted[created.job_id] = f"{index} {line.custom_id}"
            taken += 1
            progress.fields = {"offset": end, "next_line": first + taken}
        if taken:
            await self._commit(record, rejected, progress)
        return taken

    async def _cancel_unstarted(self, inflight: Mapping[str, str]) -> None:
        """Cancel the in-flight lines no worker has started; running ones finish."""
        if not inflight:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in inflight:
                pipe.hget(keys.job(job_id), "status")
            statuses = await pipe.execute()
        for job_id, status in zip(inflight, statuses, strict=True):
            if status in (JobStatus.QUEUED, JobStatus.ROUTED):
                await self.store.cancel(job_id)

    async def _close(self, record: Mapping[str, str], status: str, code: str) -> None:
        """End a cancelled or expired batch: lines never submitted go to the error file."""
        fresh = await self.records.batch(record["id"]) or record
        message = (
            "the batch was cancelled before this request ran"
            if status == "cancelled"
            else "the batch's completion window passed before this request ran"
        )
        while int(fresh.get("next_line") or 0) < int(fresh.get("total") or 0):
            read = await self._read_lines(fresh, 1000)
            if not read:
                break
            first = int(fresh["next_line"])
            results: list[Result] = [
                (first + i, False, unrun_line(_custom_id(raw), code, message))
                for i, (_, raw) in enumerate(read)
            ]
            end = read[-1][0]
            next_line = first + len(read)
            await self._commit(
                fresh, results, Progress(fields={"offset": end, "next_line": next_line})
            )
            fresh = await self.records.batch(record["id"]) or fresh
        allowed = ("cancelling",) if status == "cancelled" else ("in_progress", "cancelling")
        await self._finalize(fresh, status, allowed)

    async def _finalize(
        self, record: Mapping[str, str], status: str, allowed: tuple[str, ...]
    ) -> None:
        """Fold the parts into the output and error files, then end the batch."""
        batch_id = record["id"]
        parts = await self.records.parts(batch_id)
        out_id, err_id = output_file_id(batch_id, "output"), output_file_id(batch_id, "errors")

        def write() -> tuple[int, int]:
            written = {OUTPUT_FLAG: 0, ERROR_FLAG: 0}
            with (
                self.storage.writer(storage_name(out_id)) as output,
                self.storage.writer(storage_name(err_id)) as errors,
                contextlib.ExitStack() as stack,
            ):
                targets: dict[bytes, IO[bytes]] = {OUTPUT_FLAG: output, ERROR_FLAG: errors}
                folded = fold_parts(self.storage, f"batches/{batch_id}", parts)
                readers = [stack.enter_context(self.storage.reader(p)) for p in folded]
                for raw in heapq.merge(*readers, key=_part_order):
                    line = raw[2 + INDEX_DIGITS :]
                    targets[raw[:1]].write(line)
                    written[raw[:1]] += len(line)
            return written[OUTPUT_FLAG], written[ERROR_FLAG]

        out_bytes, err_bytes = await anyio.to_thread.run_sync(write)
        fields: dict[str, Any] = {}
        now = time.time()
        for file_id, size, kind in ((out_id, out_bytes, "output"), (err_id, err_bytes, "errors")):
            if size:
                await self.records.add_file(
                    {
                        "id": file_id,
                        "tenant": record["tenant"],
                        "filename": f"{batch_id}_{kind}.jsonl",
                        "purpose": "batch_output",
                        "bytes": size,
                        "created_at": now,
                    }
                )
                fields["error_file_id" if kind == "errors" else "output_file_id"] = file_id
            else:
                await anyio.to_thread.run_sync(self.storage.delete, storage_name(file_id))
        if await self.records.transition(record, status, allowed, self.token, **fields):
            await anyio.to_thread.run_sync(self.storage.delete_tree, f"batches/{batch_id}")
            await self.redis.delete(keys.batch_parts(batch_id), keys.batch_inflight(batch_id))
