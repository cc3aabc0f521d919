"""The ``laneway.classify`` task: label a job with a lane and hand it on."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, cast

from celery import Celery, Task

from classifier.service import Classifier
from classifier.strategies import Decision
from laneway import keys
from laneway.celery_app import CLASSIFY_TASK, RUN_TASK
from laneway.jobs import JobStatus
from laneway.lanes import GENERAL, queue_for
from laneway.runtime import runtime_for
from laneway.store import loads_request
from laneway.wire import Priority

log = logging.getLogger(__name__)

_classifier_lock = threading.Lock()
_classifier: Classifier | None = None


def _get_classifier(app: Celery) -> Classifier:
    global _classifier
    if _classifier is None:
        with _classifier_lock:
            if _classifier is None:
                settings = runtime_for(app).settings
                _classifier = Classifier.from_config(settings.classifier, settings.redis_url)
    return _classifier


def decide(classifier: Classifier, request: dict[str, Any]) -> Decision:
    """The classifier's decision, or ``general`` with the error as the reason."""
    try:
        return classifier.classify(request)
    except Exception as exc:  # any classifier failure must still route the job
        log.warning("classifier failed, routing to general: %r", exc)
        return Decision(GENERAL, 0.0, f"classifier error: {exc!r}", "fallback")


def register(app: Celery) -> Task:
    @app.task(name=CLASSIFY_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def classify(job_id: str) -> str:
        rt = runtime_for(app)
        status, raw_request, priority = cast(
            list[str | None], rt.redis.hmget(keys.job(job_id), ["status", "request", "priority"])
        )
        if status != JobStatus.QUEUED.value:
            return f"skipped: job is {status or 'missing'}"
        decision = decide(_get_classifier(app), loads_request(raw_request))
        queue = queue_for(decision.lane)
        now = time.time()
        message = rt.messages.build(
            RUN_TASK, (job_id,), queue, priority=cast(Priority, priority or "normal")
        )
        return rt.store.route(
            job_id,
            {
                "status": JobStatus.ROUTED.value,
                "lane": decision.lane,
                "queue": queue,
                "confidence": round(decision.confidence, 4),
                "reason": decision.reason,
                "strategy": decision.strategy,
                "routed_at": now,
                "updated_at": now,
            },
            message,
        )

    return classify
