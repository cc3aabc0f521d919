"""Background checks that keep jobs moving when parts of the system fail.

- Classifier: when its workers are down, slow or crashing, a job still
  unclassified ``classifier.unclassified_after_seconds`` after submission goes to
  ``general`` with that reason. ``route.lua`` routes a job only while it is
  queued, so the watchdog and a late classifier can race safely.
- Lost messages: kombu's Redis transport pops a message before it records it
  as unacknowledged, so a worker killed in between loses the message and its
  job would wait forever. A routed job whose message is neither waiting in its
  list nor held by a worker after a grace period is sent again.

Every lane worker process runs one; the checks are atomic scripts, so several
can run at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import cast

import redis

from laneway import keys
from laneway.celery_app import RUN_TASK
from laneway.jobs import JobStatus
from laneway.lanes import GENERAL, Lane, excluded_lanes, nearest_lane, parse_lane, queue_for
from laneway.runtime import Runtime
from laneway.store import script_source
from laneway.wire import Priority

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25
LOST_CHECK_EVERY = 8  # polls between two lost-message sweeps (~2 s)
SCAN_LIMIT = 2000


class Watchdog:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._timeout = rt.settings.classifier.unclassified_after_seconds
        self._grace = rt.settings.retry.lost_message_grace_seconds
        self._recover = rt.redis.register_script(script_source("recover"))
        self._thread = threading.Thread(target=self._run, name="laneway-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        polls = 0
        while True:
            time.sleep(POLL_SECONDS)
            polls += 1
            try:
                self.sweep_unclassified()
                if polls % LOST_CHECK_EVERY == 0:
                    self.sweep_lost()
            except redis.RedisError as exc:
                log.warning("watchdog: Redis unavailable (%s)", exc)

    def _priority(self, job_id: str) -> tuple[Priority, list[Lane] | None]:
        """The job's priority, and the lanes its API key allows (``None``: all)."""
        priority, lanes = self._rt.redis.hmget(keys.job(job_id), "priority", "lanes")
        allowed = [parse_lane(lane) for lane in str(lanes).split(",")] if lanes else None
        return cast(Priority, priority or "normal"), allowed

    def sweep_unclassified(self) -> int:
        overdue = self._rt.redis.zrangebyscore(
            keys.CLASSIFY_DEADLINES, "-inf", time.time(), start=0, num=100
        )
        return sum(self.route_to_general(str(job_id)) for job_id in overdue)

    def route_to_general(self, job_id: str) -> int:
        priority, allowed = self._priority(job_id)
        lane = GENERAL if allowed is None else nearest_lane(GENERAL, allowed)
        queue = queue_for(lane)
        outside = excluded_lanes(allowed) if allowed is not None else []
        message = self._rt.messages.build(
            RUN_TASK, (job_id, None, outside, priority), queue, priority=priority
        )
        now = time.time()
        reason = f"the classifier did not answer within {self._timeout:g}s"
        if lane != GENERAL:
            reason += f"; the API key may not use general, so the nearest lane it may use: {lane}"
        reply = self._rt.store.route(
            job_id,
            {
                "status": JobStatus.ROUTED.value,
                "lane": lane,
                "queue": queue,
                "confidence": 0.0,
                "strategy": "fallback",
                "reason": reason,
                "routed_at": now,
                "updated_at": now,
            },
            message,
        )
        if reply == "ok":
            log.warning("job %s: classifier timed out, routed to %s", job_id, lane)
            return 1
        return 0

    def sweep_lost(self) -> int:
        now = time.time()
        overdue = self._rt.redis.zrangebyscore(
            keys.SENT, "-inf", now - self._grace, start=0, num=100
        )
        resent = 0
        for raw in overdue:
            job_id = str(raw)
            verdict = self._recover(
                keys=[keys.job(job_id), keys.KOMBU_UNACKED, keys.SENT],
                args=[job_id, str(now), str(SCAN_LIMIT)],
            )
            if verdict == "lost":
                resent += self.resend(job_id)
        return resent

    def resend(self, job_id: str) -> int:
        lane = parse_lane(str(self._rt.redis.hget(keys.job(job_id), "lane") or GENERAL))
        priority, allowed = self._priority(job_id)
        outside = excluded_lanes(allowed) if allowed is not None else []
        message = self._rt.messages.build(
            RUN_TASK, (job_id, None, outside, priority), queue_for(lane), priority=priority
        )
        reason = "sent again: its task message was lost (a worker died while taking it)"
        reply = self._rt.store.reroute(
            job_id, message, {"lane": lane, "queue": queue_for(lane), "reason": reason}, None
        )
        log.warning("job %s: %s", job_id, reason)
        return 1 if reply == "ok" else 0
