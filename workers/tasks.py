"""The ``laneway.run`` task: one delivery of a job to a lane worker.

A lane worker imports this module at start (its app's ``include``): that registers the
task with the app and starts the background threads before the worker is ready.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from celery import Celery, Task, shared_task

from laneway.celery_app import RUN_TASK
from laneway.heartbeat import ensure_heartbeat, worker_identity
from laneway.lanes import QUEUE_PREFIX, Lane, parse_lane
from laneway.runtime import Runtime, runtime_for
from laneway.wire import Priority
from laneway.worker import on_worker_ready
from workers.backends import BackendClient
from workers.balancing import FleetSlots
from workers.breaker import Breakers
from workers.cancel import CancelRegistry, CancelWatcher
from workers.prober import HealthProber
from workers.runner import JobRunner, LaneWorkerContext, fail_delivery
from workers.selection import selection_for
from workers.watchdog import Watchdog

_ctx_lock = threading.Lock()
_ctx: LaneWorkerContext | None = None
_ctx_pid = 0
"""The process ``_ctx`` belongs to: a pool child forked later builds its own (threads,
heartbeat and worker identity do not cross a fork)."""


def _context(rt: Runtime, app: Celery) -> LaneWorkerContext:
    """Per-process state, with its background threads started on first use."""
    global _ctx, _ctx_pid
    if _ctx is None or _ctx_pid != os.getpid():
        with _ctx_lock:
            if _ctx is None or _ctx_pid != os.getpid():
                settings = rt.settings
                # this process holds jobs: it must beat (pool children included)
                ensure_heartbeat(rt.redis, _role(app), settings.worker.heartbeat_interval_seconds)
                backends = [b for lane in settings.lanes.values() for b in lane.backends]
                connections = sum(b.max_concurrency for b in backends)
                cancels = CancelRegistry()
                breakers = Breakers(rt.redis, settings.retry)
                CancelWatcher(rt.redis, cancels).start()
                HealthProber(
                    rt.redis, breakers, backends, settings.retry.health_probe_interval_seconds
                ).start()
                Watchdog(rt).start()
                _ctx = LaneWorkerContext(
                    client=BackendClient(settings.worker, max(connections, 10)),
                    slots=FleetSlots(
                        rt.redis, settings.worker.slot_lease_seconds, _owner(app)
                    ).start(),
                    cancels=cancels,
                    breakers=breakers,
                    owner=_owner(app),
                    selections={
                        lane: selection_for(lane, config) for lane, config in settings.lanes.items()
                    },
                )
                _ctx_pid = os.getpid()
    return _ctx


def _role(app: Celery) -> str:
    return str(getattr(app, "laneway_role", "lane"))


def _owner(app: Celery) -> str:
    return worker_identity(_role(app))


def _lane_of(task: Task) -> Lane:
    routing_key = (task.request.delivery_info or {}).get("routing_key") or ""
    return parse_lane(routing_key.removeprefix(QUEUE_PREFIX))


@shared_task(name=RUN_TASK, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
def run(
    self: Task,
    job_id: str,
    prefer_model: str | None = None,
    visited: list[str] | None = None,
    priority: Priority = "normal",
) -> str:
    app = self.app
    rt = runtime_for(app)
    runner: JobRunner | None = None
    try:
        runner = JobRunner(
            rt, _context(rt, app), job_id, _lane_of(self), prefer_model, visited or [], priority
        )
        return runner.run()
    except Exception as exc:  # whatever raised, the job must end visibly
        if runner is not None:
            return runner.fail_internal(exc)
        return fail_delivery(rt, job_id, _owner(app), False, exc)


@on_worker_ready("lane")
def start_background(app: Celery) -> Any:
    """Start the process's background threads (prober, watchdog, cancel listener)
    before the first job arrives."""
    return _context(runtime_for(app), app)
