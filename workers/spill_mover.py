"""Lane spillover, the moving: jobs waiting too long in a lane's queue go to a lane
with free slots.

A lane worker takes messages one per thread, as many as its backends have slots, so
a backed-up lane's jobs wait as messages in its Redis list, where no worker looks at
them until a slot frees up. Deciding when a worker takes a job would be too late (its
own lane has a slot by then), so the lane workers' watchdogs look at the oldest
waiting messages of every lane with ``spillover`` configured, about twice a second,
and move the ones due (workers/spillover.py decides) with ``spill.lua``: the message
leaves the source list and the job's new message joins the target lane in one step,
only while the target lane still has room, and only for the one mover whose ``LREM``
found the message.

Jobs a worker holds while it waits for a call slot in its thread are not in the list
and do not move (a lane runs as many threads as it has slots per worker, so only
lanes with several workers hold any).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import Any, cast

from laneway import keys
from laneway.celery_app import RUN_TASK
from laneway.heartbeat import live_roles
from laneway.jobs import JobStatus
from laneway.lanes import Lane, excluded_lanes, parse_lane, queue_for
from laneway.requests import context_needed
from laneway.runtime import Runtime
from laneway.settings import SpilloverConfig
from laneway.store import dumps, flatten, loads_request, script_source, status_event
from laneway.wire import Priority, WaitingMessage, queue_keys, read_message
from workers.breaker import Breakers
from workers.spillover import Due, LaneRoom, WaitingJob, due, reason, spilling_lanes, target_lane

log = logging.getLogger(__name__)
PRIORITIES = ("high", "normal", "low")

SCAN = 32
"""Messages looked at per queue list and sweep, from the end workers take from."""
_JOB_FIELDS = (
    "status",
    "lane",
    "strategy",
    "confidence",
    "updated_at",
    "spillover",
    "lanes",
    "priority",
)


class SpilloverMover:
    def __init__(self, rt: Runtime, breakers: Breakers | None = None) -> None:
        self._rt = rt
        self._rules = spilling_lanes(rt.settings)
        self._breakers = breakers or Breakers(rt.redis, rt.settings.retry)
        self._spill = rt.redis.register_script(script_source("spill"))

    @property
    def enabled(self) -> bool:
        return bool(self._rules)

    def sweep(self) -> int:
        """Move every job due that a lane has room for; returns how many moved."""
        moved = 0
        for lane, rule in self._rules.items():
            moved += self.sweep_lane(lane, rule)
        return moved

    def sweep_lane(self, source: Lane, rule: SpilloverConfig) -> int:
        waiting = self._oldest(source)
        if not waiting:
            return 0
        with self._rt.redis.pipeline(transaction=False) as pipe:
            for _, message in waiting:
                pipe.hmget(keys.job(str(message.args[0])), _JOB_FIELDS)
            records = cast(list[list[str | None]], pipe.execute())
        now = time.time()
        rooms: dict[Lane, LaneRoom] | None = None
        moved = 0
        for (list_key, message), record in zip(waiting, records, strict=True):
            job = _waiting_job(source, message, record, now)
            why = due(rule, job) if job else None
            if job is None or why is None:
                continue
            rooms = rooms if rooms is not None else self.rooms(rule.to)
            if not any(room.room > 0 for room in rooms.values()):
                break
            needed = self._context_needed(str(message.args[0]))
            target = target_lane(self._rt.settings, job, rooms, needed)
            if target is None:
                continue
            priority = cast(Priority, record[-1] if record[-1] in PRIORITIES else "normal")
            verdict = self.move(source, target, list_key, message, why, rule, priority)
            room = rooms[target]
            if verdict == "ok":
                moved += 1
                rooms[target] = LaneRoom(
                    room.free_slots, room.queued + 1, room.workers, room.context_window
                )
            elif verdict == "full":
                rooms[target] = LaneRoom(0, room.queued, room.workers, room.context_window)
        return moved

    def _oldest(self, lane: Lane) -> list[tuple[str, WaitingMessage]]:
        """The lane's waiting task messages nearest to being taken, in the order workers
        take them (kombu pops the right end of each list, the plain list first)."""
        lists = queue_keys(queue_for(lane))
        with self._rt.redis.pipeline(transaction=False) as pipe:
            for list_key in lists:
                pipe.lrange(list_key, -SCAN, -1)
            contents = cast(list[list[str]], pipe.execute())
        found: list[tuple[str, WaitingMessage]] = []
        for list_key, payloads in zip(lists, contents, strict=True):
            for payload in reversed(payloads):
                message = read_message(payload)
                if message and message.task == RUN_TASK and message.args:
                    found.append((list_key, message))
        return found

    def rooms(self, lanes: Sequence[Lane]) -> dict[Lane, LaneRoom]:
        """Each lane's free call slots fleet-wide (backends whose breaker is not open),
        queued messages and live workers, in two round trips."""
        settings = self._rt.settings
        backends = {lane: settings.lanes[lane].backends for lane in lanes}
        names = [b.name for pool in backends.values() for b in pool]
        if names:
            self._breakers.refresh(names)
        usable = {
            lane: [b for b in pool if self._breakers.state(b.name).state != "open"]
            for lane, pool in backends.items()
        }
        now_s, now_us = self._rt.redis.time()
        now = f"({now_s + now_us / 1e6}"
        with self._rt.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.WORKER_HEARTBEAT)
            for lane in lanes:
                for backend in usable[lane]:
                    pipe.zcount(keys.slots(backend.name), now, "+inf")
                for list_key in queue_keys(queue_for(lane)):
                    pipe.llen(list_key)
            replies = iter(pipe.execute())
        workers = live_roles(cast(dict[str, str], next(replies)))
        rooms: dict[Lane, LaneRoom] = {}
        for lane in lanes:
            free = sum(max(0, b.max_concurrency - int(next(replies))) for b in usable[lane])
            queued = sum(int(next(replies)) for _ in queue_keys(queue_for(lane)))
            window = max((b.context_window for b in usable[lane]), default=0)
            rooms[lane] = LaneRoom(free, queued, workers.get(lane, 0), window)
        return rooms

    def _context_needed(self, job_id: str) -> int | None:
        raw = self._rt.redis.hget(keys.job(job_id), "request")
        return context_needed(loads_request(str(raw))) if raw else None

    def move(
        self,
        source: Lane,
        target: Lane,
        list_key: str,
        message: WaitingMessage,
        why: Due,
        rule: SpilloverConfig,
        priority: Priority = "normal",
    ) -> str:
        """Move the job of ``message`` (waiting in ``list_key``) to ``target``."""
        job_id = str(message.args[0])
        args = (job_id, _arg(message.args, 1), _arg(message.args, 2) or [], priority)
        queue = queue_for(target)
        new = self._rt.messages.build(RUN_TASK, args, queue, priority=priority)
        text = reason(source, target, why, rule)
        now = time.time()
        record = {
            "from_lane": source,
            "to_lane": target,
            "waited_seconds": round(why.waited, 3),
            "confidence": why.confidence,
            "at": now,
        }
        pool = [
            b
            for b in self._rt.settings.lanes[target].backends
            if self._breakers.state(b.name).state != "open"
        ]
        fields = {"lane": target, "queue": queue, "updated_at": now, **new.tracking()}
        verdict = str(
            self._spill(
                keys=[
                    keys.job(job_id),
                    keys.events(job_id),
                    list_key,
                    new.list_key,
                    *(keys.slots(b.name) for b in pool),
                ],
                args=[
                    message.payload,
                    message.delivery_tag,
                    source,
                    target,
                    queue,
                    new.push,
                    new.payload,
                    status_event(JobStatus.ROUTED, lane=target, reason=text),
                    text,
                    dumps({k: v for k, v in record.items() if v is not None}),
                    self._rt.settings.lanes[target].max_queue_depth,
                    len(pool),
                    *(b.max_concurrency for b in pool),
                    *flatten(fields),
                ],
            )
        )
        if verdict == "ok":
            log.info("job %s → %s: %s", job_id, target, text)
        return verdict


def _arg(args: tuple[Any, ...], index: int) -> Any:
    return args[index] if len(args) > index else None


def _waiting_job(
    source: Lane, message: WaitingMessage, record: Sequence[str | None], now: float
) -> WaitingJob | None:
    status, lane, strategy, confidence, updated_at, spilled, lanes, _ = record
    if status is None or lane != source or updated_at is None:
        return None
    visited = {str(name) for name in _arg(message.args, 2) or []}
    if lanes:
        with suppress(ValueError):
            visited |= set(excluded_lanes([parse_lane(name) for name in lanes.split(",")]))
    score: float | None = None
    if confidence:
        with suppress(ValueError):
            score = float(confidence)
    try:
        waited = now - float(updated_at)
    except ValueError:
        return None
    return WaitingJob(
        lane=source,
        status=status,
        waited=waited,
        strategy=strategy or "",
        confidence=score,
        spilled=bool(spilled),
        visited=visited,
    )
