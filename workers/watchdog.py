"""Routes jobs the classifier did not answer for in time to ``general``.

The classifier must never block ingestion: when its workers are down, slow or
crashing, a job that is still unclassified ``classifier.timeout_seconds``
after submission goes to ``general`` with that reason. ``route.lua`` routes a
job only while it is queued, so the watchdog and a late classifier can race
safely — and so can the watchdogs of several lane worker processes.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from laneway import keys
from laneway.celery_app import RUN_TASK
from laneway.jobs import JobStatus
from laneway.lanes import GENERAL, queue_for
from laneway.runtime import Runtime

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25


class ClassifyWatchdog:
    def __init__(self, rt: Runtime, timeout: float) -> None:
        self._rt = rt
        self._timeout = timeout
        self._thread = threading.Thread(target=self._run, name="laneway-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(POLL_SECONDS)
            try:
                self.sweep()
            except redis.RedisError as exc:
                log.warning("classify watchdog: Redis unavailable (%s)", exc)

    def sweep(self) -> int:
        overdue = self._rt.redis.zrangebyscore(
            keys.CLASSIFY_DEADLINES, "-inf", time.time(), start=0, num=100
        )
        routed = 0
        for job_id in overdue:
            routed += self.route_to_general(str(job_id))
        return routed

    def route_to_general(self, job_id: str) -> int:
        queue = queue_for(GENERAL)
        priority = self._rt.redis.hget(keys.job(job_id), "priority") or "normal"
        message = self._rt.messages.build(
            RUN_TASK,
            (job_id, None, [], priority),
            queue,
            priority=priority,  # type: ignore[arg-type]
        )
        now = time.time()
        reply = self._rt.store.route(
            job_id,
            {
                "status": JobStatus.ROUTED.value,
                "lane": GENERAL,
                "queue": queue,
                "confidence": 0.0,
                "strategy": "fallback",
                "reason": f"the classifier did not answer within {self._timeout:g}s",
                "routed_at": now,
                "updated_at": now,
            },
            message,
        )
        if reply == "ok":
            log.warning("job %s: classifier timed out, routed to general", job_id)
            return 1
        return 0
