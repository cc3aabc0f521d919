"""The Celery application and its queue topology.

The kernel names its tasks but does not import them: a worker's app lists the modules
that define them in ``include``, and Celery imports those when the worker starts. A
process that only sends tasks (the API) builds messages by task name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from celery import Celery
from kombu import Exchange, Queue  # type: ignore[attr-defined]

from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.settings import Settings, load_settings
from laneway.transport import TRANSPORT

CLASSIFY_TASK = "laneway.classify"
RUN_TASK = "laneway.run"

CLASSIFY_ROLE = "classify"
CLASSIFY_TASK_MODULES = ("classifier.tasks",)
"""Modules a classifier worker imports at start: they define ``laneway.classify``."""
LANE_TASK_MODULES = ("workers.tasks",)
"""Modules a lane worker imports at start: they define ``laneway.run``."""


def _queue(name: str) -> Queue:
    return Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def create_app(settings: Settings, include: Sequence[str] = ()) -> Celery:
    """A Celery app configured for at-least-once, least-connections delivery; a worker
    started from it imports the task modules named in ``include``."""
    worker = settings.worker
    transport_options = {
        # Must exceed the hard time limit plus any countdown, or Redis hands a
        # job that is still running to a second worker (validated in settings).
        "visibility_timeout": worker.visibility_timeout,
        # kombu sweeps for messages of dead workers only every ~100 s by default
        # (interval x throttle); sweep every few seconds instead.
        "unacked_restore_interval": max(1, min(10, worker.visibility_timeout // 4)),
        "unacked_restore_throttle": 1,
        "priority_steps": [0, 3, 6, 9],
    }
    app = Celery("laneway", set_as_current=False, include=list(include))
    app.conf.update(
        broker_url=settings.redis_url,
        # TLS (rediss://) and Sentinel URLs keep kombu's stock transport.
        broker_transport=TRANSPORT if urlsplit(settings.redis_url).scheme == "redis" else None,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=worker.task_soft_time_limit,
        task_time_limit=worker.task_time_limit,
        task_queues=[_queue(CLASSIFY_QUEUE)] + [_queue(queue_for(lane)) for lane in LANES],
        task_default_queue=queue_for("general"),
        task_routes={CLASSIFY_TASK: {"queue": CLASSIFY_QUEUE}},
        task_create_missing_queues=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    app.laneway_settings = settings
    return app


def worker_app(settings: Settings, role: str) -> Celery:
    """An app whose worker registers the tasks of one role (``classify`` or a lane)."""
    modules = CLASSIFY_TASK_MODULES if role == CLASSIFY_ROLE else LANE_TASK_MODULES
    app = create_app(settings, include=modules)
    app.laneway_role = role
    return app


def __getattr__(name: str) -> Any:
    # Lets ``celery -A laneway.celery_app worker`` find an app with every task.
    if name in {"app", "celery"}:
        app = create_app(load_settings(), include=CLASSIFY_TASK_MODULES + LANE_TASK_MODULES)
        app.laneway_role = CLASSIFY_ROLE
        return app
    raise AttributeError(name)
