"""Lane spillover, the moving (workers/spill_mover.py and spill.lua) on a real Redis:
a database of its own that no worker reads, so messages stay where the test puts
them. Jobs are created and routed by the store's own scripts; the target lane's
live worker is one heartbeat entry, its busy backends slots taken as a worker would."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from laneway import keys
from laneway.celery_app import RUN_TASK, create_app
from laneway.jobs import JobStatus
from laneway.lanes import CLASSIFY_QUEUE, Lane, queue_for
from laneway.redis_server import EmbeddedRedis
from laneway.runtime import Runtime
from laneway.settings import Settings
from laneway.store import AsyncJobStore, JobStore
from laneway.wire import MessageFactory, queue_keys, read_message
from producer.submit import new_job_id
from workers.balancing import FleetSlots
from workers.spill_mover import SpilloverMover
from workers.spillover import Due

DB = 9
GENERAL_SLOTS = 2


def lane_settings(
    url: str, spillover: dict[str, Any] | None, general_depth: int = 10_000
) -> Settings:
    def backend(name: str, limit: int) -> dict[str, Any]:
        url = "http://x.invalid/v1"
        return {"name": name, "base_url": url, "model": "m", "max_concurrency": limit}

    lanes: dict[str, Any] = {
        "fast-path": {"backends": [backend("sp-fast", 1)]},
        "general": {
            "backends": [backend("sp-general", GENERAL_SLOTS)],
            "max_queue_depth": general_depth,
        },
        "high-compute": {"backends": [backend("sp-large", 1)]},
    }
    if spillover is not None:
        lanes["fast-path"]["spillover"] = spillover
    return Settings(redis_url=url, lanes=lanes)


class Bench:
    def __init__(
        self, url: str, spillover: dict[str, Any] | None, general_depth: int = 10_000
    ) -> None:
        self.url = url
        self.settings = lane_settings(url, spillover, general_depth)
        self.r = redis.Redis.from_url(url, decode_responses=True)
        self.r.flushdb()
        self.messages = MessageFactory(create_app(self.settings))
        self.store = JobStore(self.r, 3600)
        self.rt = Runtime(self.settings, self.r, self.store, self.messages)

    def mover(self) -> SpilloverMover:
        return SpilloverMover(self.rt)

    def worker_alive(self, lane: Lane) -> None:
        entry = json.dumps({"role": lane, "at": time.time()})
        self.r.hset(keys.WORKER_HEARTBEAT, f"{lane}@test", entry)

    def routed_job(self, lane: Lane, waited: float, **fields: Any) -> str:
        """A job the classifier sent to ``lane`` ``waited`` seconds ago, its message waiting."""
        job_id = new_job_id()
        now = time.time()
        classify = self.messages.build("laneway.classify", (job_id,), CLASSIFY_QUEUE)
        request = {"messages": [{"role": "user", "content": "hello"}]}
        created = {"id": job_id, "tenant": "t", "kind": "chat", "request": request}
        created |= {"status": "queued", "created_at": now, "updated_at": now}
        created |= {"priority": "normal", "deliveries": 0}

        async def create() -> None:
            client = aioredis.Redis.from_url(self.url, decode_responses=True)
            await AsyncJobStore(client, 3600).create(job_id, "t", created, classify)
            await client.aclose()

        asyncio.run(create())
        self.r.delete(CLASSIFY_QUEUE)
        then = now - waited
        message = self.messages.build(RUN_TASK, (job_id,), queue_for(lane))
        decision = {"status": "routed", "lane": lane, "queue": queue_for(lane)}
        decision |= {"confidence": 0.9, "strategy": "rules", "reason": "looks simple"}
        decision |= {"routed_at": then, "updated_at": then, **fields}
        assert self.store.route(job_id, decision, message) == "ok"
        return job_id

    def waiting(self, lane: Lane) -> list[str]:
        """Job ids of the messages waiting in ``lane``'s queue."""
        found = []
        for key in queue_keys(queue_for(lane)):
            for payload in self.r.lrange(key, 0, -1):
                message = read_message(payload)
                assert message is not None
                found.append(str(message.args[0]))
        return found

    def job(self, job_id: str) -> dict[str, str]:
        return self.r.hgetall(keys.job(job_id))

    def spills(self) -> int:
        return int(self.r.hget(keys.STATS, "spillover|fast-path|general") or 0)


@pytest.fixture
def bench(redis_server: EmbeddedRedis) -> Iterator[Bench]:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{DB}"
    made = Bench(url, {"to": ["general"], "after_seconds": 5})
    yield made
    made.r.flushdb()
    made.r.close()


def test_a_job_waiting_too_long_moves_to_a_lane_with_room(bench: Bench) -> None:
    bench.worker_alive("general")
    old = bench.routed_job("fast-path", waited=7.2)
    young = bench.routed_job("fast-path", waited=1.0)
    assert bench.mover().sweep() == 1
    assert bench.waiting("fast-path") == [young]
    assert bench.waiting("general") == [old]
    job = bench.store.get(old)
    assert job is not None
    assert job.status is JobStatus.ROUTED and job.lane == "general"
    assert job.queue == queue_for("general")
    assert job.reason is not None
    assert job.reason.startswith("looks simple; spillover: waited 7.")
    assert job.reason.endswith("s in fast-path, general had free slots")
    assert job.spillover is not None
    assert (job.spillover.from_lane, job.spillover.to_lane) == ("fast-path", "general")
    assert 7.0 < job.spillover.waited_seconds < 60
    assert bench.spills() == 1
    # the job waits on its new message: the lost-message sweeper looks for that one
    raw = bench.job(old)
    message = read_message(bench.r.lrange(queue_for("general"), 0, -1)[0])
    assert message is not None and raw["message_tag"] == message.delivery_tag
    assert raw["message_key"] == queue_for("general")
    assert bench.r.zscore(keys.SENT, old) is not None
    events = bench.r.xrange(keys.events(old))
    assert json.loads(events[-1][1]["data"])["lane"] == "general"
    assert bench.mover().sweep() == 0  # moved once: never again


def test_no_move_while_the_other_lane_is_full(bench: Bench) -> None:
    bench.worker_alive("general")
    job_id = bench.routed_job("fast-path", waited=30)
    busy = FleetSlots(bench.r, 30.0, "busy-worker")
    general = bench.settings.lanes["general"].backends
    held = [busy.take(general) for _ in range(GENERAL_SLOTS)]
    assert all(held)
    assert bench.mover().sweep() == 0
    assert bench.waiting("fast-path") == [job_id] and bench.job(job_id)["lane"] == "fast-path"
    # one slot frees up, but a job already waits in general's queue for it
    first = held[0]
    assert first is not None
    busy.release(first)
    queued = bench.routed_job("general", waited=0)
    assert bench.mover().sweep() == 0
    assert bench.waiting("general") == [queued]
    # room beyond the queue: it moves
    second = held[1]
    assert second is not None
    busy.release(second)
    assert bench.mover().sweep() == 1
    assert set(bench.waiting("general")) == {queued, job_id}
    assert bench.spills() == 1


def test_no_move_into_a_queue_at_its_max_depth(redis_server: EmbeddedRedis) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{DB}"
    shallow = Bench(url, {"to": ["general"], "after_seconds": 5}, general_depth=1)
    try:
        shallow.worker_alive("general")
        queued = shallow.routed_job("general", waited=0)  # 1 of GENERAL_SLOTS free slots left
        job_id = shallow.routed_job("fast-path", waited=30)
        assert shallow.mover().sweep() == 0
        assert shallow.waiting("fast-path") == [job_id]
        assert shallow.waiting("general") == [queued]
    finally:
        shallow.r.flushdb()
        shallow.r.close()


def test_no_move_without_a_live_worker_in_the_other_lane(bench: Bench) -> None:
    job_id = bench.routed_job("fast-path", waited=30)
    assert bench.mover().sweep() == 0
    assert bench.waiting("fast-path") == [job_id]


def test_finished_cancelled_and_forced_jobs_stay(bench: Bench) -> None:
    bench.worker_alive("general")
    cancelled = bench.routed_job("fast-path", waited=30)
    assert bench.store.cancel(cancelled) == "routed"
    forced = bench.routed_job("fast-path", waited=30, strategy="route", confidence=1.0)
    assert bench.mover().sweep() == 0
    assert set(bench.waiting("fast-path")) == {cancelled, forced}
    assert bench.job(cancelled)["status"] == "cancelled"
    assert bench.job(forced)["lane"] == "fast-path"


def test_racing_movers_move_a_job_once_and_a_taken_message_not_at_all(bench: Bench) -> None:
    bench.worker_alive("general")
    job_id = bench.routed_job("fast-path", waited=30)
    first, second = bench.mover(), bench.mover()
    source = first._oldest("fast-path")  # both saw the message before either moved it
    assert [m.args[0] for _, m in source] == [job_id]
    list_key, message = source[0]
    rule = bench.settings.lanes["fast-path"].spillover
    assert rule is not None

    assert first.move("fast-path", "general", list_key, message, Due(30), rule) == "ok"
    assert second.move("fast-path", "general", list_key, message, Due(30), rule) == "skipped"
    assert bench.waiting("general") == [job_id] and bench.spills() == 1

    # a worker pops the message (BRPOP) just before a mover gets to it: LREM finds nothing
    taken = bench.routed_job("fast-path", waited=30)
    (list_key, message), *_ = first._oldest("fast-path")
    assert bench.r.rpop(list_key) == message.payload
    assert first.move("fast-path", "general", list_key, message, Due(30), rule) == "gone"
    assert bench.job(taken)["lane"] == "fast-path"
    assert bench.waiting("general") == [job_id] and bench.spills() == 1


def test_off_by_default_nothing_moves(redis_server: EmbeddedRedis) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{DB}"
    off = Bench(url, None)
    try:
        off.worker_alive("general")
        job_id = off.routed_job("fast-path", waited=1e4)
        mover = off.mover()
        assert not mover.enabled and mover.sweep() == 0
        assert off.waiting("fast-path") == [job_id]
    finally:
        off.r.flushdb()
        off.r.close()
