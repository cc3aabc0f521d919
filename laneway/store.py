"""The job store: job records, their event streams and guarded transitions.

Every state change is one Lua script call: it checks the current state, writes
the hash, appends to the job's event stream and, where the change hands the job
on, pushes the next Celery task, all atomically. A finished job is never
overwritten, whatever order duplicate deliveries arrive in.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, ClassVar, cast

import redis
import redis.asyncio as aioredis
from redis.commands.core import Script

from laneway import keys
from laneway.histograms import lua_preamble
from laneway.jobs import Job, JobStatus
from laneway.lanes import QUEUE_PREFIX
from laneway.wire import QueuedMessage


@cache
def script_source(name: str, *includes: str) -> str:
    """A script with common.lua and the ``includes`` (their helpers) before it."""
    folder = resources.files("laneway") / "lua"
    parts = ["common", *includes, name]
    return lua_preamble() + "\n".join((folder / f"{part}.lua").read_text() for part in parts)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def flatten(fields: Mapping[str, Any]) -> list[str]:
    """Hash fields as a flat list of strings; structured values become JSON."""
    out: list[str] = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, dict | list):
            value = dumps(value)
        out += [name, str(value)]
    return out


def status_event(status: JobStatus, **extra: Any) -> str:
    return dumps({"status": status.value, **{k: v for k, v in extra.items() if v is not None}})


@dataclass(frozen=True, slots=True)
class Created:
    job_id: str
    created: bool
    """False when an idempotency key matched an existing job."""
    event_id: str = "0-0"
    """Id of the job's first event: waiters read from here on."""


@dataclass(frozen=True, slots=True)
class Started:
    outcome: str
    """``ok`` when the job may run, else the status that forbids it."""
    request: dict[str, Any] | None = None
    kind: str | None = None
    deliveries: int = 0
    deadline_at: float = 0.0
    streamed: bool = False
    """Tokens of this job already went out to clients (from an earlier delivery)."""
    expired: bool = False
    """The job's deadline has passed: no attempt was opened."""
    slot: int = 0
    """With a :class:`SlotTake`: the 1-based candidate whose slot was taken (its
    attempt opened); 0 for none."""
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class SlotTake:
    """A call slot to take as a job starts, in the same script (see take.lua): the
    candidates' slot sets (then a state hash, for some modes), how to choose, and the
    attempt to open for each candidate. Outcome ``full`` when every one is full:
    then nothing at all is written."""

    keys: list[str]
    lease: float
    token: str
    mode: str
    limits: list[int]
    weights: list[float]
    names: list[str]
    attempts: list[Mapping[str, Any]]
    randoms: tuple[float, float]

    def argument(self) -> str:
        return dumps(
            {
                "lease": self.lease,
                "token": self.token,
                "mode": self.mode,
                "limits": self.limits,
                "weights": self.weights,
                "names": self.names,
                "attempts": [dumps(a) for a in self.attempts],
                "r": list(self.randoms),
            }
        )


@dataclass(frozen=True, slots=True)
class DepthLimits:
    """Backpressure on a new job (checked in ``create.lua``, nothing written if refused)."""

    limit: int = 0
    """Most messages the job's queue may hold (every priority sub-list); 0: no limit."""
    lanes: Mapping[str, int] | None = None
    """For a job the classifier has yet to place: the lane queues it may go to, with
    their limits. Refused when the jobs already waiting for the classifier would take
    all the room they have."""

    def argument(self, queue: str, wake: bool) -> str:
        if not self.limit and not self.lanes:
            return ""
        spec: dict[str, Any] = {"queue": queue, "limit": self.limit, "wake": wake}
        if self.lanes:
            spec["lanes"] = [[name, limit] for name, limit in self.lanes.items()]
        return dumps(spec)


def _create_call(
    job_id: str,
    tenant: str,
    fields: Mapping[str, Any],
    message: QueuedMessage,
    ttl: int,
    idempotency_key: str | None,
    classify_deadline: float | None,
    limits: DepthLimits | None,
    request_digest: str | None = None,
    wake: bool = False,
) -> tuple[list[str], list[str]]:
    call_keys = [
        keys.job(job_id),
        keys.events(job_id),
        keys.tenant_jobs(tenant),
        message.list_key,
        keys.CLASSIFY_DEADLINES,
        keys.final(job_id),
    ]
    if idempotency_key:
        call_keys.append(keys.idempotency(tenant, idempotency_key))
    status = JobStatus(fields["status"])
    event = status_event(status, lane=fields.get("lane"))
    deadline = str(classify_deadline) if classify_deadline is not None else ""
    args = [job_id, str(ttl), str(fields["created_at"]), message.push, message.payload, event]
    return call_keys, [
        *args,
        deadline,
        limits.argument(message.queue, wake) if limits else "",
        request_digest or "",
        *flatten({**fields, **message.tracking()}),
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The fields an OpenAI-style answer needs (kept in step with OUTCOME in common.lua)."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "status",
        "result",
        "lane",
        "backend",
        "error",
        "error_type",
        "usage",
        "model",
        "finished_at",
        "error_param",
    )

    job_id: str
    status: str
    result: str | None
    """The backend's answer as stored: JSON text, passed to clients unparsed."""
    lane: str | None
    backend: str | None
    error: str | None
    error_type: str | None
    usage: str | None
    model: str | None
    finished_at: str | None
    error_param: str | None = None

    @classmethod
    def of(cls, job_id: str, fields: Mapping[str, str]) -> Outcome:
        status, *rest = (fields.get(name) for name in cls.FIELDS)
        return cls(job_id, status or "", *rest)


@dataclass(frozen=True, slots=True)
class FinishGuard:
    """Who may finish a job: with ``owner`` set, only while that worker instance holds
    it (``allow_free``: or while no worker does); with ``status``, only in that state."""

    owner: str = ""
    allow_free: bool = False
    status: JobStatus | None = None


def _cancel_call(job_id: str) -> tuple[list[str], list[str]]:
    event = status_event(JobStatus.CANCELLED, error="cancelled by the client")
    call_keys = [keys.job(job_id), keys.events(job_id), keys.final(job_id)]
    return call_keys, [str(time.time()), event, keys.CANCEL_CHANNEL]


INTERNAL_ERROR = "internal_error"
"""``error_type`` of a job failed by an unexpected exception in a task."""
INTERNAL_ERROR_TRIES = 6

EVENTS_MAXLEN = 2000
"""Entries kept per job event stream (approximately); chunks are batched per entry."""


class QueueFull(Exception):
    """The queue a new job would join is at its ``max_queue_depth``, or (``queue`` empty)
    every lane it could be classified into is: nothing was written."""

    def __init__(self, queue: str, depth: int) -> None:
        if queue:
            message = f"queue {queue} is full ({depth} jobs waiting)"
        else:
            message = f"every lane is full ({depth} jobs already waiting for one)"
        super().__init__(message)
        self.queue = queue
        self.depth = depth


class IdempotencyConflict(Exception):
    """The idempotency key already names a job created from a different request."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"the idempotency key was already used, for job {job_id}")
        self.job_id = job_id


def _parse_created(reply: list[Any]) -> Created:
    if int(reply[0]) == -2:
        raise IdempotencyConflict(str(reply[1]))
    if int(reply[0]) < 0:
        raise QueueFull(str(reply[3]), int(reply[2]))
    return Created(job_id=str(reply[1]), created=bool(int(reply[0])), event_id=str(reply[2]))


def first_outcome(job_id: str, reply: Any) -> Outcome | None:
    """The outcome in an XREAD reply on a job's ``final`` stream, if any."""
    for _, entries in reply or []:
        for _, fields in entries:
            return Outcome.of(job_id, fields)
    return None


def _parse_job(raw: Mapping[str, str], content: Mapping[str, str]) -> Job | None:
    """The job from its record and its content (prompt, result: kept apart once it
    finished, for less long; see ``release_content`` in common.lua)."""
    return Job.from_redis({**raw, **content}) if raw else None


class JobStore:
    """Blocking job store, used by workers and the CLI."""

    def __init__(
        self, client: redis.Redis, ttl: int, queue_limits: Mapping[str, int] | None = None
    ) -> None:
        self.redis = client
        self.ttl = ttl
        self.queue_limits = dict(queue_limits or {})
        """``max_queue_depth`` by queue name: where the classifier's routes may go."""
        self._route = client.register_script(script_source("route"))
        self._start = client.register_script(script_source("start", "take"))
        self._finish = client.register_script(script_source("finish"))
        self._attempt = client.register_script(script_source("attempt"))
        self._cancel = client.register_script(script_source("cancel"))
        self._reroute = client.register_script(script_source("reroute"))
        self._requeue = client.register_script(script_source("requeue"))
        self._chunks = client.register_script(script_source("chunks"))

    def get(self, job_id: str) -> Job | None:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job(job_id))
            pipe.hgetall(keys.content(job_id))
            raw, content = pipe.execute()
        return _parse_job(raw, content)

    def route(
        self,
        job_id: str,
        fields: Mapping[str, Any],
        message: QueuedMessage,
        spill: Callable[[], Sequence[QueuedMessage]] | None = None,
        wait: Callable[[], tuple[QueuedMessage, float]] | None = None,
    ) -> str:
        """Send a queued job to ``message``'s lane or, while that lane's queue is full,
        to the first lane of ``spill()`` with room. When none has room, ``wait()``'s
        classify message is sent again after its countdown while the job's classify
        deadline allows; else the job fails with ``queue_full``. ``spill`` and ``wait``
        are built only when needed. Returns ``ok``, ``waiting``, ``queue_full``, or why
        the job was not routed."""
        reply = self._route_to(job_id, fields, [message], last=spill is None)
        if reply == "full" and spill is not None:
            reply = self._route_to(job_id, fields, [message, *spill()], True, wait)
        return reply

    def _route_to(
        self,
        job_id: str,
        fields: Mapping[str, Any],
        candidates: Sequence[QueuedMessage],
        last: bool,
        wait: Callable[[], tuple[QueuedMessage, float]] | None = None,
    ) -> str:
        lanes = [m.queue.removeprefix(QUEUE_PREFIX) for m in candidates]
        error = f"every lane the job could go to is full ({', '.join(lanes)})"
        per_candidate: list[str] = []
        for lane, candidate in zip(lanes, candidates, strict=True):
            per_candidate += [
                lane,
                candidate.queue,
                candidate.push,
                candidate.payload,
                status_event(JobStatus.ROUTED, lane=lane),
                str(self.queue_limits.get(candidate.queue, 0)),
                candidate.delivery_tag,
            ]
        again, countdown = wait() if wait else (None, 0.0)
        reply = self._route(
            keys=[
                keys.job(job_id),
                keys.events(job_id),
                keys.CLASSIFY_DEADLINES,
                keys.final(job_id),
                again.list_key if again else "",
                *(m.list_key for m in candidates),
            ],
            args=[
                job_id,
                str(time.time()),
                str(len(candidates)),
                status_event(JobStatus.FAILED, error=error) if last else "",
                error,
                again.push if again else "",
                again.payload if again else "",
                str(countdown) if again else "",
                *per_candidate,
                *flatten(fields),
            ],
        )
        return str(reply)

    def start(
        self,
        job_id: str,
        attempt: Mapping[str, Any] | None,
        owner: str = "",
        dead_after: float = 15.0,
        fields: Mapping[str, Any] | None = None,
        take: SlotTake | None = None,
    ) -> Started:
        """Take a delivery: refused for finished jobs, and for jobs a live worker other
        than ``owner`` holds; opens ``attempt`` when given and the deadline allows.
        ``owner`` (a worker instance) holds the job from here on; ``fields`` are recorded.
        With ``take`` (instead of ``attempt``) a call slot is taken first."""
        now = time.time()
        reply = self._start(
            keys=[keys.job(job_id), keys.events(job_id), *(take.keys if take else ())],
            args=[
                str(now),
                dumps(attempt) if attempt else "",
                status_event(JobStatus.RUNNING),
                owner,
                str(dead_after),
                take.argument() if take else "",
                *flatten(fields or {}),
            ],
        )
        if reply[0] != "ok":
            return Started(outcome=str(reply[0]))
        request, kind, deliveries, deadline_at, streamed, expired, slot, tenant = reply[1:9]
        return Started(
            "ok",
            json.loads(request),
            str(kind),
            int(deliveries),
            float(deadline_at),
            streamed=str(streamed) not in ("", "0"),
            expired=bool(int(expired)),
            slot=int(slot),
            tenant=str(tenant),
        )

    def request_and_tenant(self, job_id: str) -> tuple[dict[str, Any], str]:
        """The job's request and tenant (empty when the job is gone), for a backend
        choice that depends on them."""
        request, tenant = self.redis.hmget(keys.job(job_id), ["request", "tenant"])
        return (json.loads(request) if request else {}), str(tenant or "")

    def reroute(
        self,
        job_id: str,
        message: QueuedMessage,
        fields: Mapping[str, Any],
        closed: Mapping[str, Any] | None,
        countdown: float = 0.0,
        owner: str = "",
    ) -> str:
        """Send a running job on to ``message``'s queue (another lane, or later);
        refused when the job finished or a worker other than ``owner`` holds it."""
        event = status_event(JobStatus.ROUTED, lane=fields.get("lane"), reason=fields.get("reason"))
        reply = self._reroute(
            keys=[keys.job(job_id), keys.events(job_id), message.list_key],
            args=[
                message.push,
                message.payload,
                event,
                dumps(closed) if closed else "",
                str(countdown),
                owner,
                *flatten({"updated_at": time.time(), **fields, **message.tracking()}),
            ],
        )
        return str(reply)

    def requeue(
        self, job_id: str, message: QueuedMessage, fields: Mapping[str, Any], entry_id: str = ""
    ) -> str:
        """Give a dead-lettered job another go (operator action)."""
        event = status_event(JobStatus.ROUTED, lane=fields.get("lane"), reason=fields.get("reason"))
        reply = self._requeue(
            keys=[
                keys.job(job_id),
                keys.events(job_id),
                keys.final(job_id),
                message.list_key,
                keys.DEAD_LETTERS,
            ],
            args=[
                message.push,
                message.payload,
                event,
                entry_id,
                *flatten({"updated_at": time.time(), **fields, **message.tracking()}),
            ],
        )
        return str(reply)

    def dead_letters(self, count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        """Dead-lettered jobs, oldest first: (entry id, {job_id, error, at})."""
        entries = self.redis.xrange(keys.DEAD_LETTERS, count=count)
        return cast(list[tuple[str, dict[str, str]]], entries)

    def record_attempt(
        self,
        job_id: str,
        closed: Mapping[str, Any],
        next_open: Mapping[str, Any] | None,
        owner: str = "",
    ) -> str:
        reply = self._attempt(
            keys=[keys.job(job_id)],
            args=[str(time.time()), dumps(closed), dumps(next_open) if next_open else "", owner],
        )
        return str(reply)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        fields: Mapping[str, Any],
        attempt: Mapping[str, Any] | None = None,
        dead_letter: bool = False,
        guard: FinishGuard | None = None,
        alongside: Callable[[redis.client.Pipeline], object] | None = None,
    ) -> str:
        """Record the final outcome (never over another); ``dead_letter`` also files
        the job in the dead-letter stream for ``laneway dead``. Without a closed
        ``attempt``, an attempt still open is closed as ``error`` with the job's error.
        ``alongside`` adds commands sent in the same round trip, before the script."""
        guard = guard or FinishGuard()
        now = time.time()
        all_fields = {"status": status.value, "finished_at": now, "updated_at": now, **fields}
        error = fields.get("error")
        event = status_event(status, error=error)
        call_keys = [keys.job(job_id), keys.events(job_id), keys.final(job_id)]
        if dead_letter:
            call_keys.append(keys.DEAD_LETTERS)
        open_extra = "".join(
            f",{dumps(name)}:{dumps(value)}"
            for name, value in (("error", error), ("error_type", fields.get("error_type")))
            if value is not None
        )
        reply = self._run(
            self._finish,
            call_keys,
            [
                guard.owner,
                "1" if guard.allow_free else "0",
                guard.status.value if guard.status else "",
                dumps(attempt) if attempt else "",
                "cancelled" if status is JobStatus.CANCELLED else "error",
                open_extra,
                str(now),
                event,
                *flatten(all_fields),
            ],
            alongside,
        )
        return str(reply)

    def _run(
        self,
        script: Script,
        call_keys: list[str],
        args: list[str],
        alongside: Callable[[redis.client.Pipeline], object] | None,
    ) -> Any:
        if alongside is None:
            return script(keys=call_keys, args=args)
        # EVALSHA by hand: a Script in a pipeline costs a SCRIPT EXISTS round trip first
        with self.redis.pipeline(transaction=False) as pipe:
            alongside(pipe)
            pipe.evalsha(script.sha, len(call_keys), *call_keys, *args)
            reply = pipe.execute(raise_on_error=False)[-1]
        if isinstance(reply, redis.exceptions.NoScriptError):
            return script(keys=call_keys, args=args)  # not run: Redis lost its script cache
        if isinstance(reply, Exception):
            raise reply
        return reply

    def fail_internal(
        self, job_id: str, reason: str, guard: FinishGuard, tries: int = INTERNAL_ERROR_TRIES
    ) -> str:
        """Fail the job with ``internal_error`` (an unexpected exception in a task),
        within ``guard``; a Redis outage is waited out for a while (about 25 s)."""
        fields = {"error": reason, "error_type": INTERNAL_ERROR}
        for attempt in range(tries):
            try:
                return self.finish(job_id, JobStatus.FAILED, fields, guard=guard)
            except redis.RedisError:
                if attempt == tries - 1:
                    raise
                time.sleep(min(2.0**attempt, 10.0))
        raise AssertionError("unreachable")

    def cancel(self, job_id: str) -> str:
        """Cancel the job unless it finished; returns the status it had."""
        call_keys, args = _cancel_call(job_id)
        return str(self._cancel(keys=call_keys, args=args))

    def append_chunks(
        self, job_id: str, chunks: list[dict[str, Any]], first: bool, owner: str = ""
    ) -> bool:
        """Append a batch of stream chunks to the job's event stream as one entry; the
        first batch also marks the job as having streamed output (one round trip).
        False, and nothing written, once the job is not running (or not ``owner``'s)."""
        reply = self._chunks(
            keys=[keys.job(job_id), keys.events(job_id)],
            args=[owner, "1" if first else "0", dumps(chunks), str(EVENTS_MAXLEN)],
        )
        return bool(reply)


class AsyncJobStore:
    """Non-blocking job store for the API's event loop."""

    def __init__(self, client: aioredis.Redis, ttl: int) -> None:
        self.redis = client
        self.ttl = ttl
        self._create = client.register_script(script_source("create"))
        self._cancel = client.register_script(script_source("cancel"))

    async def cancel(self, job_id: str) -> str:
        """Cancel the job unless it finished; returns the status it had."""
        call_keys, args = _cancel_call(job_id)
        return str(await self._cancel(keys=call_keys, args=args))

    async def create(
        self,
        job_id: str,
        tenant: str,
        fields: Mapping[str, Any],
        message: QueuedMessage,
        idempotency_key: str | None = None,
        classify_deadline: float | None = None,
        limits: DepthLimits | None = None,
        request_digest: str | None = None,
    ) -> Created:
        """Write the job and push its first task; :class:`QueueFull` (nothing written)
        when ``limits`` refuses it. An idempotency key already used for a request with
        another ``request_digest`` raises :class:`IdempotencyConflict`."""
        call_keys, args = _create_call(
            job_id,
            tenant,
            fields,
            message,
            self.ttl,
            idempotency_key,
            classify_deadline,
            limits,
            request_digest,
        )
        return _parse_created(await self._create(keys=call_keys, args=args))

    async def create_and_wait(
        self,
        job_id: str,
        tenant: str,
        fields: Mapping[str, Any],
        message: QueuedMessage,
        classify_deadline: float | None,
        block_ms: int,
        limits: DepthLimits | None = None,
    ) -> tuple[Created, Outcome | None]:
        """Create the job and block for its outcome, in one round trip.

        The blocking read is pipelined behind the create script, so the waiter is
        in place before the job can finish and the API makes one call per job, not
        two. No idempotency key here: the job id is ours, so the read can name it
        before the script returns. The script goes as EVAL, not EVALSHA: after a
        Redis restart a NOSCRIPT error would leave the read blocking for nothing.
        A refusal wakes the read with a final entry, deleted here before raising.
        """
        call_keys, args = _create_call(
            job_id, tenant, fields, message, self.ttl, None, classify_deadline, limits, wake=True
        )
        pipe = self.redis.pipeline(transaction=False)
        pipe.eval(script_source("create"), len(call_keys), *call_keys, *args)
        pipe.xread({keys.final(job_id): "0-0"}, count=1, block=block_ms)
        created, reply = await pipe.execute()
        if int(created[0]) < 0:
            await self.redis.delete(keys.final(job_id))
        return _parse_created(created), first_outcome(job_id, reply)

    async def outcome(self, job_id: str) -> Outcome | None:
        """The few fields an OpenAI-style answer needs, the result as stored JSON."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.job(job_id), Outcome.FIELDS)
            pipe.hget(keys.content(job_id), "result")
            values, kept_result = await pipe.execute()
        status, *rest = cast(list[str | None], values)
        if status is None:
            return None
        outcome = Outcome(job_id, status, *rest)
        if outcome.result is None and kept_result is not None:
            return dataclasses.replace(outcome, result=kept_result)
        return outcome

    async def wait_and_get(self, job_id: str, block_ms: int) -> tuple[bool, Job | None]:
        """Block up to ``block_ms`` for the job to finish, then read it: one round trip.

        The read is pipelined behind the blocking XREAD on the same connection, so
        Redis runs it the moment the read returns. Returns (finished, job).
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.xread({keys.final(job_id): "0-0"}, count=1, block=block_ms)
        pipe.hgetall(keys.job(job_id))
        pipe.hgetall(keys.content(job_id))
        reply, raw, content = await pipe.execute()
        return bool(reply), _parse_job(raw, content)

    async def get(self, job_id: str) -> Job | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job(job_id))
            pipe.hgetall(keys.content(job_id))
            raw, content = await pipe.execute()
        return _parse_job(raw, content)


def loads_request(raw: str | None) -> dict[str, Any]:
    value = json.loads(raw) if raw else {}
    return value if isinstance(value, dict) else {}
