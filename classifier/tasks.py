"""The ``laneway.classify`` task: label a job with a lane and hand it on.

A classifier worker imports this module at start (its app's ``include``): that
registers the task with the app and the warm-up that runs before the worker is ready.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Celery, Task, shared_task

from classifier.bank import BankError
from classifier.service import Classifier
from classifier.strategies import Decision, build_strategy
from laneway.backpressure import spill_order
from laneway.celery_app import CLASSIFY_TASK, RUN_TASK
from laneway.failpoints import failpoint
from laneway.jobs import JobStatus
from laneway.lanes import CLASSIFY_QUEUE, GENERAL, Lane, excluded_lanes, nearest_lane, queue_for
from laneway.runtime import runtime_for
from laneway.store import FinishGuard
from laneway.wire import Priority, QueuedMessage
from laneway.worker import on_worker_ready

log = logging.getLogger(__name__)

WAIT_FOR_ROOM_SECONDS = 1.0
"""When every lane a job may go to is full, it is classified again this much later, up
to ``classifier.unclassified_after_seconds`` after its submission (then it fails)."""

_classifier_lock = threading.Lock()
_classifier: Classifier | None = None
_bank_error: BankError | None = None
"""A malformed classifier.examples_file: kept, so each job does not parse it again."""


def _get_classifier(app: Celery) -> Classifier:
    global _classifier, _bank_error
    if _classifier is None:
        with _classifier_lock:
            if _bank_error is not None:
                raise _bank_error
            if _classifier is None:
                settings = runtime_for(app).settings
                try:
                    if settings.classifier.strategy == "rules":
                        # Rules cost less than a cache lookup: no cache, no batching.
                        _classifier = Classifier(build_strategy(settings.classifier))
                    else:
                        _classifier = Classifier.from_config(
                            settings.classifier, settings.redis_url
                        )
                except BankError as exc:
                    _bank_error = exc
                    raise
    return _classifier


def decide(classifier: Classifier, request: dict[str, Any]) -> Decision:
    """The classifier's decision, or ``general`` with the error as the reason."""
    return decide_cached(classifier, request)[0]


def decide_cached(classifier: Classifier, request: dict[str, Any]) -> tuple[Decision, bool]:
    """:func:`decide`, and whether the decision came from the classifier's cache."""
    try:
        return classifier.classify_cached(request)
    except Exception as exc:  # any classifier failure must still route the job
        log.warning("classifier failed, routing to general: %r", exc)
        return Decision(GENERAL, 0.0, f"classifier error: {exc!r}", "fallback"), False


def within(decision: Decision, lanes: list[Lane] | None) -> tuple[Lane, str]:
    """The decided lane and why, kept inside ``lanes`` (an API key's) when given:
    a lane outside them becomes the nearest one inside."""
    if lanes is None or decision.lane in lanes:
        return decision.lane, decision.reason
    lane = nearest_lane(decision.lane, lanes)
    return lane, (
        f"{decision.reason}; the API key may not use {decision.lane}, so the nearest lane "
        f"it may use: {lane}"
    )


def decide_with(app: Celery, request: dict[str, Any]) -> tuple[Decision, bool]:
    """:func:`decide` with this process's classifier; ``general`` if it cannot be built."""
    try:
        classifier = _get_classifier(app)
    except Exception as exc:  # a classifier that cannot load must still route the job
        log.warning("classifier unavailable, routing to general: %r", exc)
        return Decision(GENERAL, 0.0, f"classifier unavailable: {exc!r}", "fallback"), False
    return decide_cached(classifier, request)


@shared_task(name=CLASSIFY_TASK, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
def classify(
    self: Task,
    job_id: str,
    request: dict[str, Any],
    priority: Priority = "normal",
    lanes: list[Lane] | None = None,
) -> str:
    app = self.app
    rt = runtime_for(app)
    try:
        return route(app, job_id, request, priority, lanes)
    except Exception as exc:  # whatever raised, the job must end visibly
        reason = f"internal error in the classifier: {type(exc).__name__}: {exc}"[:300]
        log.error("job %s failed: %s", job_id, reason, exc_info=exc)
        # only a job still waiting for a decision: a routed one is on its way
        reply = rt.store.fail_internal(job_id, reason, FinishGuard(status=JobStatus.QUEUED))
        return "failed: internal error" if reply == "ok" else f"stopped: job is {reply}"


def route(
    app: Celery,
    job_id: str,
    request: dict[str, Any],
    priority: Priority,
    lanes: list[Lane] | None,
) -> str:
    """Classify the request and route the job to its lane's queue."""
    # The request travels in the message (shown as "<request>" in Flower), so
    # classifying costs one Redis call: route.lua checks the job is still queued.
    rt = runtime_for(app)
    failpoint("classify.start")
    began = time.perf_counter()
    decision, cached = decide_with(app, request)
    took_ms = (time.perf_counter() - began) * 1000
    failpoint("classify.decided")
    lane, reason = within(decision, lanes)
    queue = queue_for(lane)
    now = time.time()
    args: tuple[Any, ...] = (job_id,)
    if lanes is not None:
        # lanes outside the key's count as tried: no fallback goes there
        args = (job_id, None, excluded_lanes(lanes), priority)
    message = rt.messages.build(RUN_TASK, args, queue, priority=priority)

    def spill() -> list[QueuedMessage]:
        """While the lane's queue is full: the lanes its fallback chain reaches."""
        return [
            rt.messages.build(RUN_TASK, args, queue_for(other), priority=priority)
            for other in spill_order(rt.settings, lane)[1:]
            if lanes is None or other in lanes
        ]

    def wait() -> tuple[QueuedMessage, float]:
        """While they are all full too: this task again, a little later."""
        again = rt.messages.build(
            CLASSIFY_TASK,
            (job_id, request, priority, *([lanes] if lanes is not None else [])),
            CLASSIFY_QUEUE,
            priority=priority,
            countdown=WAIT_FOR_ROOM_SECONDS,
            argsrepr=f"({job_id!r}, <request>, {priority!r})",
        )
        return again, WAIT_FOR_ROOM_SECONDS

    failpoint("classify.route")
    return rt.store.route(
        job_id,
        {
            "status": JobStatus.ROUTED.value,
            "lane": lane,
            "queue": queue,
            "confidence": round(decision.confidence, 4),
            "reason": reason,
            "strategy": decision.strategy,
            "classify_ms": round(took_ms, 3),
            "classifier_cache_hit": 1 if cached else None,
            "routed_at": now,
            "updated_at": now,
        },
        message,
        spill,
        wait,
    )


@on_worker_ready("classify")
def warm_up(app: Celery) -> Decision:
    """Build the classifier and run it once, so the first job pays no load time (the
    worker announces itself ready only after this). A malformed example file is logged
    once, as one line naming the file and line, and every job then goes to general with
    that error as its reason (``decide_with``) until the file is fixed and the worker
    restarted."""
    try:
        classifier = _get_classifier(app)
    except BankError as exc:
        log.error("classifier: cannot load the example bank, routing every job to general: %s", exc)
        return Decision(GENERAL, 0.0, f"classifier unavailable: {exc}", "fallback")
    return decide(classifier, {"messages": [{"role": "user", "content": "hello"}]})
