"""Starting a Celery worker for one role: the classifier or one lane."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeVar

from celery import Celery, signals

from laneway import logs
from laneway.celery_app import CLASSIFY_ROLE, worker_app
from laneway.heartbeat import Heartbeat, ensure_heartbeat
from laneway.lanes import CLASSIFY_QUEUE, queue_for
from laneway.runtime import runtime_for
from laneway.settings import Settings

__all__ = [
    "CLASSIFY_ROLE",
    "default_pool",
    "exit_now",
    "on_worker_ready",
    "ready_hooks",
    "run_worker",
]

WorkerKind = Literal["classify", "lane"]
ReadyHook = Callable[[Celery], object]
Hook = TypeVar("Hook", bound=ReadyHook)
_ready_hooks: dict[WorkerKind, list[ReadyHook]] = {"classify": [], "lane": []}


def on_worker_ready(kind: WorkerKind) -> Callable[[Hook], Hook]:
    """Register ``hook(app)`` to run when a ``kind`` worker is ready, before it announces
    its role (readiness waits for the hooks; one that raises keeps the worker unready).
    Task modules register theirs when the worker imports them (the app's ``include``).
    """

    def register(hook: Hook) -> Hook:
        if hook not in _ready_hooks[kind]:
            _ready_hooks[kind].append(hook)
        return hook

    return register


def ready_hooks(role: str) -> list[ReadyHook]:
    """The hooks a worker of ``role`` (``classify`` or a lane) runs once ready."""
    return list(_ready_hooks["classify" if role == CLASSIFY_ROLE else "lane"])


def default_pool(settings: Settings, role: str) -> str:
    """Lane workers wait on backends: threads. The rules classifier is pure CPU and
    cheaper than a thread hand-off: solo. A model classifier batches across threads.
    """
    if role == CLASSIFY_ROLE and settings.classifier.strategy == "rules":
        return "solo"
    return "threads"


def run_worker(
    settings: Settings,
    role: str,
    concurrency: int | None = None,
    loglevel: str = "INFO",
    pool: str | None = None,
    log_format: logs.LogFormat | None = None,
) -> None:
    """Run a worker until it is told to stop. ``role`` is ``classify`` or a lane name."""
    app = worker_app(settings, role)
    log_format = log_format or settings.log_format
    lane = None if role == CLASSIFY_ROLE else role
    _tag_task_lines(lane)
    _format_lines(log_format, loglevel, logs.secrets_of(settings), lane)
    pool = pool or default_pool(settings, role)
    if role == CLASSIFY_ROLE:
        queue = CLASSIFY_QUEUE
        # The solo pool runs one task at a time: a concurrency above 1 would only
        # make the worker reserve messages other classifier workers could take.
        concurrency = 1 if pool == "solo" else concurrency or 8
    else:
        queue = queue_for(role)  # type: ignore[arg-type]
        concurrency = concurrency or settings.lanes[role].worker_concurrency  # type: ignore[index]
    name = f"{role}@{socket.gethostname()}-{os.getpid()}"
    # httpx logs every request at INFO: the health prober alone would write a line per
    # backend every few seconds. Calls that matter are logged by laneway itself.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    beat: list[Heartbeat] = []

    @signals.worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def _ready(**_: Any) -> None:
        for hook in ready_hooks(role):
            hook(app)
        worker = settings.worker
        beat.append(
            ensure_heartbeat(
                runtime_for(app).redis,
                role,
                worker.heartbeat_interval_seconds,
                announce=True,
                concurrency=concurrency,
            )
        )

    @signals.worker_shutdown.connect(weak=False)  # type: ignore[untyped-decorator]
    def _shutdown(**_: Any) -> None:
        for heartbeat in beat:
            heartbeat.stop()

    try:
        app.worker_main(
            [
                # the banner is plain text on stdout: not for a JSON log
                *(["--quiet"] if log_format == "json" else []),
                "worker",
                "--queues",
                queue,
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--hostname",
                name,
                "--loglevel",
                loglevel,
                "--without-gossip",
                "--without-mingle",
            ]
        )
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0
    else:
        code = 0
    exit_now(code)


def _tag_task_lines(lane: str | None) -> None:
    """Every line a task logs, Celery's own included, carries its job's fields: the job
    id is a laneway task's first argument; the lane is the worker's (a classifier
    worker's job has none until routed)."""
    tokens: dict[str, Any] = {}

    @signals.task_prerun.connect(weak=False)  # type: ignore[untyped-decorator]
    def _enter(task_id: str, args: tuple[Any, ...] = (), **_: Any) -> None:
        if args and isinstance(args[0], str):
            tokens[task_id] = logs.enter_job(args[0], lane)

    @signals.task_postrun.connect(weak=False)  # type: ignore[untyped-decorator]
    def _leave(task_id: str, **_: Any) -> None:
        token = tokens.pop(task_id, None)
        if token is not None:
            logs.leave_job(token)


def _format_lines(
    log_format: logs.LogFormat, loglevel: str, secrets: list[str], lane: str | None
) -> None:
    if log_format == "json":
        # from the start: Celery warns (about running as root, say) before its setup
        logs.configure("json", loglevel.upper(), secrets, lane)

        # A setup_logging receiver replaces Celery's own logging setup.
        @signals.setup_logging.connect(weak=False)  # type: ignore[untyped-decorator]
        def _json(loglevel: int | str = logging.INFO, **_: Any) -> None:
            logs.configure("json", loglevel, secrets, lane)

        return

    @signals.after_setup_logger.connect(weak=False)  # type: ignore[untyped-decorator]
    @signals.after_setup_task_logger.connect(weak=False)  # type: ignore[untyped-decorator]
    def _filters(logger: logging.Logger, **_: Any) -> None:
        for handler in logger.handlers:
            logs.add_filters(handler, secrets, lane)


def exit_now(code: int) -> NoReturn:
    """Exit once Celery has shut down (tasks finished, messages acked): the interpreter's
    own finalisation would spend 1-2 s collecting garbage that the OS frees at once."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
