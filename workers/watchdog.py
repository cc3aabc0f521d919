"""Background checks that keep jobs moving when parts of the system fail.

- Classifier: when its workers are down, slow or crashing, a job still
  unclassified ``classifier.unclassified_after_seconds`` after submission goes to
  ``general`` with that reason. ``route.lua`` routes a job only while it is
  queued, so the watchdog and a late classifier can race safely.
- Dead workers: every worker heartbeats (``laneway.heartbeat``), and every job a
  worker runs names the worker instance that holds it. A worker whose heartbeat
  is ``worker.dead_after_seconds`` old has died (SIGKILL, OOM, lost host): its
  running jobs go back to their lane at once (``handover.lua``), instead of
  waiting for kombu to restore its unacknowledged messages after the visibility
  timeout (an hour by default). Liveness is judged by the heartbeat alone, never
  by how long a job has run: a slow call on a live worker is left alone.
- Lane spillover (off by default): jobs waiting too long in a lane's queue move
  to a lane with free slots (see workers/spill_mover.py).
- Lost messages: kombu's Redis transport pops a message before it records it
  as unacknowledged, so a worker killed in between loses the message and its
  job would wait forever. A routed job whose message is neither waiting in its
  list nor freshly held by a worker after a grace period is sent again.

Every lane worker process runs one; the checks are atomic scripts, so several
can run at once and only one of them acts on a job.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import suppress
from typing import cast

import redis

from laneway import keys
from laneway.celery_app import RUN_TASK
from laneway.jobs import JobStatus
from laneway.lanes import GENERAL, Lane, excluded_lanes, nearest_lane, parse_lane, queue_for
from laneway.runtime import Runtime
from laneway.store import flatten, script_source, status_event
from laneway.wire import Priority, QueuedMessage
from workers.spill_mover import SpilloverMover

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25
DEAD_CHECK_EVERY = 4  # polls between two dead-worker sweeps (~1 s)
LOST_CHECK_EVERY = 8  # polls between two lost-message sweeps (~2 s)
SPILL_CHECK_EVERY = 2  # polls between two spillover sweeps (~0.5 s)
SCAN_LIMIT = 2000
DEAD_BATCH = 20
"""Dead workers looked at per sweep."""
HELD_BATCH = 200
"""Jobs of one dead worker handed over per sweep."""


class Watchdog:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._timeout = rt.settings.classifier.unclassified_after_seconds
        self._grace = rt.settings.retry.lost_message_grace_seconds
        self._dead_after = rt.settings.worker.dead_after_seconds
        self._recover = rt.redis.register_script(script_source("recover"))
        self._dead_workers = rt.redis.register_script(script_source("dead_workers"))
        self._handover = rt.redis.register_script(script_source("handover"))
        self._spillover = SpilloverMover(rt)
        self._connected_since: float | None = time.monotonic()
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
                if polls % DEAD_CHECK_EVERY == 0:
                    self.sweep_dead_workers()
                if polls % LOST_CHECK_EVERY == 0:
                    self.sweep_lost()
                if self._spillover.enabled and polls % SPILL_CHECK_EVERY == 0:
                    self._spillover.sweep()
                if self._connected_since is None:
                    self._connected_since = time.monotonic()
            except redis.RedisError as exc:
                self._connected_since = None
                log.warning("watchdog: Redis unavailable (%s)", exc)
            except Exception:  # a bug here must not stop the checks for good
                log.exception("watchdog: sweep failed")

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

    def sweep_dead_workers(self) -> int:
        """Hand the running jobs of dead workers to their lanes; returns how many."""
        if (
            self._connected_since is None
            or time.monotonic() - self._connected_since < self._dead_after
        ):
            # After a Redis outage every heartbeat looks old: judge only once the
            # workers have had a full dead_after to beat again.
            return 0
        dead = self._dead_workers(keys=[keys.HEARTBEATS], args=[self._dead_after, DEAD_BATCH])
        handed = 0
        for raw in dead:
            worker = str(raw)
            for job_id in self._rt.redis.srandmember(keys.held(worker), HELD_BATCH) or []:
                handed += self.hand_over(worker, str(job_id))
        return handed

    def hand_over(self, worker: str, job_id: str) -> int:
        lane, message = self._message_for(job_id)
        reason = f"handed over: worker {worker} stopped heartbeating"
        verdict = self._handover(
            keys=[
                keys.job(job_id),
                keys.events(job_id),
                message.list_key,
                keys.KOMBU_UNACKED,
                keys.KOMBU_UNACKED_INDEX,
            ],
            args=[
                worker,
                self._dead_after,
                job_id,
                message.push,
                message.payload,
                status_event(JobStatus.ROUTED, lane=lane, reason=reason),
                *self._routing_fields(lane, reason, message),
            ],
        )
        if verdict == "ok":
            log.warning("job %s: %s; sent to %s again", job_id, reason, lane)
            return 1
        return 0

    def sweep_lost(self) -> int:
        now = time.time()
        overdue = self._rt.redis.zrangebyscore(
            keys.SENT, "-inf", now - self._grace, start=0, num=100
        )
        return sum(self.recover(str(job_id), now) for job_id in overdue)

    def recover(self, job_id: str, now: float) -> int:
        """Send a routed job's message again if it is lost (see ``recover.lua``)."""
        lane, message = self._message_for(job_id)
        reason = "sent again: its task message was lost (a worker died while taking it)"
        verdict = self._recover(
            keys=[
                keys.job(job_id),
                keys.KOMBU_UNACKED,
                keys.KOMBU_UNACKED_INDEX,
                keys.SENT,
                keys.events(job_id),
                message.list_key,
            ],
            args=[
                job_id,
                now,
                SCAN_LIMIT,
                self._grace,
                lane,
                message.push,
                message.payload,
                status_event(JobStatus.ROUTED, lane=lane, reason=reason),
                *self._routing_fields(lane, reason, message),
            ],
        )
        if verdict == "resent":
            log.warning("job %s: %s", job_id, reason)
            return 1
        return 0

    def _message_for(self, job_id: str) -> tuple[Lane, QueuedMessage]:
        """The job's lane and a task message that sends it there as its last delivery did."""
        values = self._rt.redis.hmget(
            keys.job(job_id), ["lane", "priority", "prefer_model", "visited", "lanes"]
        )
        lane_name, priority_name, prefer_model, visited_json, lanes = cast(list[str | None], values)
        lane = parse_lane(lane_name or GENERAL)
        priority = cast(Priority, priority_name or "normal")
        visited: set[str] = set()
        if visited_json:
            with suppress(ValueError, TypeError):
                visited = {str(name) for name in json.loads(visited_json)}
        if lanes:
            # lanes outside the job's API key count as tried: no fallback goes there
            visited |= set(excluded_lanes([parse_lane(name) for name in lanes.split(",")]))
        args = (job_id, prefer_model or None, sorted(visited), priority)
        return lane, self._rt.messages.build(RUN_TASK, args, queue_for(lane), priority=priority)

    @staticmethod
    def _routing_fields(lane: Lane, reason: str, message: QueuedMessage) -> list[str]:
        return flatten(
            {
                "lane": lane,
                "queue": queue_for(lane),
                "reason": reason,
                "updated_at": time.time(),
                **message.tracking(),
            }
        )
