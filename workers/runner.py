"""One delivery of a lane task: call backends until the job is answered or handed on.

The runner does the Redis writes and the calls; what to do on each outcome is the
lane's policies' (workers/policies/): the runner reports an :class:`Outcome` and
carries out the decision. The outcomes, as the runner meets them:
- the job is finished or cancelled, or a live worker runs it → nothing to do
  (duplicate delivery; no policy asked);
- delivered too often (poison), the deadline passed, a stream lost with its worker;
- no backend of the lane may take calls (breakers open) or it has none;
- every backend that may take calls is at its ``max_concurrency``, counted across
  the fleet (see workers/balancing.py) → the runner first waits for a slot in the
  worker's thread (up to 10 s), then asks the policies;
- a call fails: retryably (connect error, timeout, 5xx, 429), fatally (4xx), or
  the prompt does not fit the context window;
- anything else that raises → failed (``internal_error``), see :meth:`JobRunner.fail_internal`.

The delivery holds the job as worker instance ``owner``: if that worker is taken
for dead meanwhile (no heartbeat) and the job handed to another, every write of
this delivery is refused, so a late answer can never be a second one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from laneway import keys
from laneway.celery_app import RUN_TASK
from laneway.failpoints import failpoint
from laneway.jobs import JobKind, JobStatus
from laneway.lanes import Lane, queue_for
from laneway.logs import bind_job
from laneway.requests import context_needed
from laneway.runtime import Runtime
from laneway.settings import BackendConfig
from laneway.store import FinishGuard, SlotTake, Started
from laneway.wire import Priority
from workers.backends import BackendClient, BackendError, BackendReply, ErrorKind
from workers.balancing import FleetSlots, Slot, candidates
from workers.breaker import Breakers
from workers.cancel import CallCancelled, CancelRegistry, CancelToken
from workers.policies import (
    DEFAULT_POLICIES,
    DeadLetter,
    Decision,
    Defer,
    Delivery,
    Fail,
    Move,
    Outcome,
    OutcomeKind,
    Policy,
    Retry,
    decide,
)
from workers.policies.deadline import DEADLINE_EXCEEDED
from workers.selection import JobFacts, Observation, Plan, Selection
from workers.selection.least_in_flight import LeastInFlight
from workers.streaming import ChunkBatcher

log = logging.getLogger(__name__)


@dataclass
class LaneWorkerContext:
    """What a lane worker process shares between its threads."""

    client: BackendClient
    slots: FleetSlots
    cancels: CancelRegistry
    breakers: Breakers
    owner: str
    """This process's worker instance: the holder recorded on the jobs it runs."""
    selections: Mapping[Lane, Selection] = field(default_factory=dict)
    """Each lane's backend selection strategy (least-in-flight where none is given)."""
    policies: tuple[Policy, ...] = DEFAULT_POLICIES


def open_attempt(backend: BackendConfig, lane: Lane) -> dict[str, Any]:
    return {"backend": backend.name, "lane": lane, "started_at": time.time(), "outcome": "running"}


def closed(attempt: dict[str, Any], outcome: str, **extra: Any) -> dict[str, Any]:
    return {**attempt, "ended_at": time.time(), "outcome": outcome, **extra}


def cost_of(usage: dict[str, Any], backend: BackendConfig) -> float | None:
    """What the call cost at the backend's prices per 1k tokens; None when unpriced."""
    if not (backend.price_per_1k_input or backend.price_per_1k_output):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cost = prompt * backend.price_per_1k_input + completion * backend.price_per_1k_output
    return round(cost / 1000, 8)


SLOT_AWAIT_SECONDS = 10.0
"""How long one delivery waits in its thread for a slot before going back to its queue
(at most a third of ``lost_message_grace_seconds``: a message held longer unstarted is
taken for lost and sent again)."""
SLOT_POLL_SECONDS = 0.1
"""Mean interval between two tries for a slot while waiting."""


def fail_delivery(rt: Runtime, job_id: str, owner: str, started: bool, exc: Exception) -> str:
    """Fail the job of a delivery that raised unexpectedly (logged here, with traceback)."""
    reason = f"internal error in the lane worker: {type(exc).__name__}: {exc}"[:300]
    log.error("job %s failed: %s", job_id, reason, exc_info=exc)
    guard = FinishGuard(owner, allow_free=not started)
    reply = rt.store.fail_internal(job_id, reason, guard)
    return "failed: internal error" if reply == "ok" else f"stopped: job is {reply}"


class JobRunner:
    def __init__(
        self,
        rt: Runtime,
        ctx: LaneWorkerContext,
        job_id: str,
        lane: Lane,
        prefer_model: str | None,
        visited: list[str],
        priority: Priority,
    ) -> None:
        self.rt = rt
        self.ctx = ctx
        self.job_id = job_id
        self.lane = lane
        self.prefer_model = prefer_model
        self.visited = visited
        self.priority = priority
        self.owner = ctx.owner
        self.started = False
        """This delivery took the job (it holds it, until handed on or finished)."""
        self.settings = rt.settings
        self.retry = rt.settings.retry
        self.backends = rt.settings.lanes[lane].backends
        self.selection = ctx.selections.get(lane) or LeastInFlight()
        self.facts: JobFacts | None = None
        """The job's request and tenant, read once for a strategy that needs them."""
        self.slot: Slot | None = None
        """The call slot this delivery holds on a backend (see workers/balancing.py)."""
        self.deadline = time.time() + self.retry.job_deadline_seconds
        # This delivery must end before Redis would hand its message to another worker.
        self.delivery_ends = time.monotonic() + rt.settings.worker.task_soft_time_limit

    def run(self) -> str:
        failpoint("lane.start")
        healthy = self.ctx.breakers.available(self.backends)
        try:
            started, backend, attempt = self.start(healthy)
            return self.take_job(started, backend, attempt, bool(healthy))
        finally:
            if self.slot is not None:
                self.ctx.slots.release(self.slot)

    def start(
        self, healthy: list[BackendConfig]
    ) -> tuple[Started, BackendConfig | None, dict[str, Any] | None]:
        """Take the job, and a slot for its first call: in one round trip when a backend
        has room (start.lua takes the slot); when none has, after waiting for one in
        this thread (nothing written meanwhile). Returns the backend and the attempt
        opened on it (None when no slot was taken)."""
        plan = self.plan(healthy)
        if plan.backends:
            attempts = [open_attempt(b, self.lane) for b in plan.backends]
            take = self.ctx.slots.offer(plan, self.job_id, attempts)
            started = self.store_start(None, take)
            if started.outcome != "full":
                if not started.slot:  # refused, or past its deadline
                    return started, None, None
                chosen = plan.backends[started.slot - 1]
                self.slot = self.ctx.slots.adopt(chosen, take)
                return started, chosen, attempts[started.slot - 1]
            self.slot = self.await_slot(healthy)
        backend = self.slot.backend if self.slot else None
        attempt = open_attempt(backend, self.lane) if backend else None
        return self.store_start(attempt, None), backend, attempt

    def store_start(self, attempt: dict[str, Any] | None, take: SlotTake | None) -> Started:
        return self.rt.store.start(
            self.job_id,
            attempt,
            self.owner,
            self.settings.worker.dead_after_seconds,
            # what a hand-over needs to send the job on as this delivery would
            {"prefer_model": self.prefer_model or "", "visited": self.visited},
            take,
        )

    def take_job(
        self,
        started: Started,
        backend: BackendConfig | None,
        attempt: dict[str, Any] | None,
        healthy: bool,
    ) -> str:
        if started.outcome != "ok" or started.request is None:
            return f"skipped: job is {started.outcome}"
        bind_job(tenant=started.tenant or None, backend=backend.name if backend else None)
        self.started = True
        failpoint("lane.started")
        if started.deliveries > self.retry.max_deliveries:
            return self.on(Outcome(OutcomeKind.POISON, deliveries=started.deliveries), None)
        if started.deadline_at:
            self.deadline = started.deadline_at
        if started.expired or time.time() >= self.deadline:
            return self.on(Outcome(OutcomeKind.DEADLINE), None)
        if started.streamed and started.request.get("stream"):
            return self.on(Outcome(OutcomeKind.STREAM_LOST), None)
        if backend is None or attempt is None:
            if healthy:
                return self.on(Outcome(OutcomeKind.LANE_FULL), None)
            if not self.backends:
                return self.on(
                    Outcome(OutcomeKind.NO_BACKENDS, f"lane {self.lane} has no backends"), None
                )
            retry_in = self.ctx.breakers.seconds_until_retry(self.backends)
            return self.on(Outcome(OutcomeKind.BREAKER_OPEN, retry_in=retry_in), None)
        with self.ctx.cancels.call(self.job_id) as token:
            return self.call_backends(
                backend, attempt, JobKind(started.kind or JobKind.CHAT), started.request, token
            )

    def plan(self, healthy: Sequence[BackendConfig]) -> Plan:
        """How the slot-take script chooses among ``healthy`` (those serving the
        preferred model when any does), as the lane's strategy has it."""
        pool = candidates(healthy, self.prefer_model)
        if pool and self.selection.needs_job and self.facts is None:
            request, tenant = self.rt.store.request_and_tenant(self.job_id)
            self.facts = JobFacts(request, tenant)
        return self.selection.plan(pool, self.facts)

    def call_ends(self) -> float:
        """When a backend call must be over (monotonic): the delivery's end or the deadline."""
        return min(self.delivery_ends, time.monotonic() + self.deadline - time.time())

    def delivery(self, failures: int = 0, streamed_output: bool = False) -> Delivery:
        return Delivery(
            lane=self.lane,
            settings=self.settings,
            now=time.time(),
            deadline=self.deadline,
            delivery_left=self.delivery_ends - time.monotonic(),
            visited=tuple(self.visited),
            failures=failures,
            streamed_output=streamed_output,
            lane_up=lambda lane: bool(
                self.ctx.breakers.available(self.settings.lanes[lane].backends)
            ),
        )

    def on(
        self,
        outcome: Outcome,
        attempt: dict[str, Any] | None,
        failures: int = 0,
        streamed_output: bool = False,
    ) -> str:
        """Ask the lane's policies about ``outcome`` and carry out their decision
        (every decision but a retry, which :meth:`call_backends` carries out)."""
        decision = decide(outcome, self.delivery(failures, streamed_output), self.ctx.policies)
        return self.carry_out(decision, attempt)

    def carry_out(self, decision: Decision, attempt: dict[str, Any] | None) -> str:
        match decision:
            case Move(lane, reason):
                return self.hand_on(lane, attempt, reason)
            case Defer(countdown, reason):
                return self.hand_on(self.lane, attempt, reason, countdown=countdown)
            case Fail(error, kind, param):
                return self.fail(attempt, error, kind, param)
            case DeadLetter(error, kind):
                if kind == DEADLINE_EXCEEDED and attempt is not None:
                    attempt = closed(attempt, "error", error=error, error_type=DEADLINE_EXCEEDED)
                return self.dead(attempt, error, kind)
            case Retry():
                raise AssertionError("a retry is carried out by the call loop")

    def call_backends(
        self,
        backend: BackendConfig,
        attempt: dict[str, Any],
        kind: JobKind,
        request: dict[str, Any],
        token: CancelToken,
    ) -> str:
        streaming = bool(request.get("stream"))
        tried: set[str] = set()
        failures = 0
        while True:
            if time.time() >= self.deadline:
                return self.on(Outcome(OutcomeKind.DEADLINE), attempt)
            tried.add(backend.name)
            bind_job(backend=backend.name)
            chunks = (
                ChunkBatcher(self.rt.store, self.job_id, owner=self.owner) if streaming else None
            )
            on_chunk = self.chunk_sink(chunks) if chunks else None
            try:
                failpoint("lane.call")
                reply = self.ctx.client.call(
                    backend, kind, request, token, on_chunk, self.call_ends()
                )
            except CallCancelled:
                log.info("job %s: cancelled during the call to %s", self.job_id, backend.name)
                return "cancelled"
            except BackendError as exc:
                failures += 1
                if chunks:
                    chunks.flush()
                failed = closed(attempt, "error", error=str(exc), error_type=exc.kind.value)
                log.warning("job %s: %s failed: %s", self.job_id, backend.name, exc)
                if exc.kind is ErrorKind.RETRYABLE:
                    self.ctx.breakers.failure(backend)
                healthy = (
                    self.ctx.breakers.available(self.backends)
                    if exc.kind is ErrorKind.RETRYABLE
                    else []
                )
                outcome = Outcome(
                    OutcomeKind(exc.kind.value),
                    str(exc),
                    param=exc.param,
                    retry_after=exc.retry_after,
                    healthy_left=bool(healthy),
                    context_needed=context_needed(request),
                )
                decision = decide(
                    outcome,
                    self.delivery(failures, bool(chunks and chunks.published)),
                    self.ctx.policies,
                )
                if not isinstance(decision, Retry):
                    return self.carry_out(decision, failed)
                if token.cancelled.wait(decision.delay):
                    return "cancelled"
                # another backend of the lane, the same one again only if it is the last
                untried = [b for b in healthy if b.name not in tried]
                plan = self.plan(untried or healthy)
                self.slot = self.ctx.slots.take(plan, self.job_id, give_back=self.slot)
                if self.slot is None:
                    return self.on(Outcome(OutcomeKind.LANE_FULL), failed)
                backend, attempt = self.slot.backend, open_attempt(self.slot.backend, self.lane)
                failpoint("lane.retry")
                recorded = self.rt.store.record_attempt(self.job_id, failed, attempt, self.owner)
                if recorded != "ok":
                    return f"stopped: job is {recorded}"
                continue
            self.ctx.breakers.success(backend)
            if chunks:
                chunks.flush()
            failpoint("lane.succeed")
            return self.succeed(backend, attempt, reply)

    @staticmethod
    def chunk_sink(chunks: ChunkBatcher) -> Callable[[dict[str, Any]], None]:
        def add(chunk: dict[str, Any]) -> None:
            chunks.add(chunk)
            if chunks.published:
                failpoint("lane.chunk")

        return add

    def succeed(self, backend: BackendConfig, attempt: dict[str, Any], reply: BackendReply) -> str:
        latency = round(reply.latency_ms, 2)
        usage = reply.body.get("usage") or {}
        recorded = self.rt.store.finish(
            self.job_id,
            JobStatus.SUCCEEDED,
            {
                "result": reply.body,
                "usage": usage,
                "cost": cost_of(usage, backend),
                "backend": backend.name,
                "model": backend.model,
                "latency_ms": latency,
                "ttft_ms": round(reply.ttft_ms, 2) if reply.ttft_ms is not None else None,
            },
            closed(attempt, "succeeded", latency_ms=latency),
            guard=FinishGuard(self.owner),
            alongside=self.slot_release(self.selection.observe(backend, reply.latency_ms)),
        )
        if recorded == "superseded":
            log.warning(
                "job %s: answered after this worker was taken for dead and the job handed "
                "over; the answer is dropped",
                self.job_id,
            )
        return recorded

    def slot_release(
        self, observed: Observation | None = None
    ) -> Callable[[redis.client.Pipeline], object] | None:
        """Giving back the held call slot (and what the strategy learnt from the call),
        sent along with the job's final write."""
        slot, self.slot = self.slot, None
        release = self.ctx.slots.release_with(slot) if slot else None
        if release is None or observed is None:
            return release or observed

        def both(pipe: redis.client.Pipeline) -> object:
            observed(pipe)
            return release(pipe)

        return both

    def fail(
        self,
        attempt: dict[str, Any] | None,
        error: str,
        kind: ErrorKind | str,
        param: str | None = None,
    ) -> str:
        """Fail the job; ``attempt`` is the closed one (None: an open one closes as error)."""
        fields = {"error": error, "error_type": str(kind), "error_param": param}
        return self.rt.store.finish(
            self.job_id,
            JobStatus.FAILED,
            fields,
            attempt,
            guard=FinishGuard(self.owner),
            alongside=self.slot_release(),
        )

    def dead(self, attempt: dict[str, Any] | None, error: str, kind: str = "exhausted") -> str:
        fields = {"error": error, "error_type": kind}
        reply = self.rt.store.finish(
            self.job_id,
            JobStatus.FAILED,
            fields,
            attempt,
            dead_letter=True,
            guard=FinishGuard(self.owner),
            alongside=self.slot_release(),
        )
        if reply == "ok":
            log.error("job %s dead-lettered: %s", self.job_id, error)
            return "dead-lettered"
        return f"stopped: job is {reply}"

    def fail_internal(self, exc: Exception) -> str:
        """An unexpected exception: the job fails visibly (``internal_error``), once.

        Only while this delivery holds the job, or before it took it (a job handed
        to another worker meanwhile is not touched). The open attempt is closed;
        the final event wakes every waiter.
        """
        return fail_delivery(self.rt, self.job_id, self.owner, self.started, exc)

    def hand_on(
        self,
        lane: Lane,
        attempt: dict[str, Any] | None,
        reason: str,
        countdown: float | None = None,
    ) -> str:
        visited = sorted({*self.visited, self.lane}) if lane != self.lane else self.visited
        args: tuple[Any, ...] = (self.job_id, self.prefer_model, visited, self.priority)
        message = self.rt.messages.build(
            RUN_TASK, args, queue_for(lane), priority=self.priority, countdown=countdown
        )
        fields = {"lane": lane, "queue": queue_for(lane), "reason": reason}
        failpoint("lane.hand_on")
        reply = self.rt.store.reroute(
            self.job_id, message, fields, attempt, countdown or 0.0, self.owner
        )
        if reply != "ok":
            return f"stopped: job is {reply}"
        log.info("job %s → %s: %s", self.job_id, lane, reason)
        return f"handed on to {lane}"

    def await_slot(self, healthy: list[BackendConfig]) -> Slot | None:
        """Every backend is at its ``max_concurrency`` fleet-wide: wait for a slot in this
        thread, holding the message. With prefetch 1 a waiting thread takes no other
        message, so the rest of the lane's jobs stay in its queue (where backpressure
        counts them) and the polling is bounded by the workers' threads, not by the
        queue. A countdown re-publish instead would become an ETA task that Celery
        reserves beyond the prefetch limit, draining the queue into worker memory."""
        self.rt.redis.hincrby(keys.STATS, f"slot_waits|{self.lane}", 1)
        give_up = min(
            time.monotonic() + SLOT_AWAIT_SECONDS,
            time.monotonic() + self.retry.lost_message_grace_seconds / 3,
            self.delivery_ends - self.settings.worker.read_timeout_seconds,
        )
        while time.monotonic() < give_up and time.time() < self.deadline:
            time.sleep(SLOT_POLL_SECONDS * (0.5 + random.random()))
            slot = self.ctx.slots.take(self.plan(healthy), self.job_id)
            if slot is not None:
                return slot
        return None
