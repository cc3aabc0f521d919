"""The ``laneway.run`` task: call a backend of the job's lane and record the answer."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task

from laneway.celery_app import RUN_TASK
from laneway.jobs import JobKind, JobStatus
from laneway.lanes import LANES, QUEUE_PREFIX, Lane, parse_lane
from laneway.runtime import Runtime, runtime_for
from laneway.settings import BackendConfig
from workers.backends import BackendClient, BackendError, Balancer
from workers.cancel import CallCancelled, CancelRegistry, CancelWatcher
from workers.streaming import ChunkBatcher

log = logging.getLogger(__name__)


@dataclass
class LaneWorkerContext:
    client: BackendClient
    balancers: dict[Lane, Balancer]
    cancels: CancelRegistry


_ctx_lock = threading.Lock()
_ctx: LaneWorkerContext | None = None


def _context(rt: Runtime) -> LaneWorkerContext:
    global _ctx
    if _ctx is None:
        with _ctx_lock:
            if _ctx is None:
                settings = rt.settings
                connections = sum(
                    b.max_concurrency for lane in settings.lanes.values() for b in lane.backends
                )
                cancels = CancelRegistry()
                CancelWatcher(rt.redis, cancels).start()
                _ctx = LaneWorkerContext(
                    client=BackendClient(settings.worker, max(connections, 10)),
                    balancers={lane: Balancer(settings.lanes[lane].backends) for lane in LANES},
                    cancels=cancels,
                )
    return _ctx


def _lane_of(task: Task) -> Lane:
    routing_key = (task.request.delivery_info or {}).get("routing_key") or ""
    return parse_lane(routing_key.removeprefix(QUEUE_PREFIX))


def _open_attempt(backend: BackendConfig, lane: Lane) -> dict[str, Any]:
    return {"backend": backend.name, "lane": lane, "started_at": time.time(), "outcome": "running"}


def _closed(attempt: dict[str, Any], outcome: str, **extra: Any) -> dict[str, Any]:
    return {**attempt, "ended_at": time.time(), "outcome": outcome, **extra}


def register(app: Celery) -> Task:
    @app.task(name=RUN_TASK, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run(self: Task, job_id: str, prefer_model: str | None = None) -> str:
        rt = runtime_for(app)
        ctx = _context(rt)
        lane = _lane_of(self)
        balancer = ctx.balancers[lane]
        backend = balancer.choose(prefer_model=prefer_model)
        if backend is None:
            error = f"lane {lane} has no backends configured"
            return rt.store.finish(job_id, JobStatus.FAILED, {"error": error})
        attempt = _open_attempt(backend, lane)
        started = rt.store.start(job_id, attempt)
        if started.outcome != "ok" or started.request is None:
            return f"skipped: job is {started.outcome}"
        kind = JobKind(started.kind or JobKind.CHAT)
        request = started.request
        streaming = bool(request.get("stream"))
        tried: set[str] = set()
        with ctx.cancels.call(job_id) as token:
            while True:
                tried.add(backend.name)
                chunks = ChunkBatcher(rt.store, job_id) if streaming else None
                with balancer.using(backend):
                    try:
                        reply = ctx.client.call(
                            backend, kind, request, token, chunks.add if chunks else None
                        )
                    except CallCancelled:
                        log.info("job %s: cancelled during the call to %s", job_id, backend.name)
                        return "cancelled"
                    except BackendError as exc:
                        log.warning("job %s: backend %s failed: %s", job_id, backend.name, exc)
                        failed = _closed(attempt, "error", error=str(exc))
                        # Chunks a client may already have shown cannot be taken back:
                        # a stream that broke after output fails instead of retrying.
                        retry = not (chunks and chunks.published)
                        next_backend = (
                            balancer.choose(frozenset(tried), prefer_model) if retry else None
                        )
                        if next_backend is None:
                            if chunks:
                                chunks.flush()
                            return rt.store.finish(
                                job_id,
                                JobStatus.FAILED,
                                {"error": str(exc), "error_type": exc.kind.value},
                                failed,
                            )
                        attempt = _open_attempt(next_backend, lane)
                        rt.store.record_attempt(job_id, failed, attempt)
                        backend = next_backend
                        continue
                if chunks:
                    chunks.flush()
                latency = round(reply.latency_ms, 2)
                ttft = round(reply.ttft_ms, 2) if reply.ttft_ms is not None else None
                return rt.store.finish(
                    job_id,
                    JobStatus.SUCCEEDED,
                    {
                        "result": reply.body,
                        "usage": reply.body.get("usage") or {},
                        "backend": backend.name,
                        "model": backend.model,
                        "latency_ms": latency,
                        "ttft_ms": ttft,
                    },
                    _closed(attempt, "succeeded", latency_ms=latency),
                )

    return run
