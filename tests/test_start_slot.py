"""A job's first call slot is taken by the script that starts the job (one round trip
on the happy path), on a real Redis: taken only when the job may run, and nothing
written at all when every backend is full."""

from __future__ import annotations

import json
import time
import uuid

import redis

from laneway import keys
from laneway.settings import BackendConfig
from laneway.store import JobStore, dumps
from workers.balancing import FleetSlots, in_flight
from workers.selection.plan import Plan


def backend(name: str, max_concurrency: int = 1) -> BackendConfig:
    return BackendConfig(
        name=name, base_url=f"http://{name}.invalid/v1", model="m", max_concurrency=max_concurrency
    )


def routed_job(r: redis.Redis, deadline_in: float = 300, status: str = "routed") -> str:
    job_id = f"job_{uuid.uuid4().hex}"
    now = time.time()
    r.hset(
        keys.job(job_id),
        mapping={
            "id": job_id,
            "tenant": "t",
            "kind": "chat",
            "request": dumps({"messages": [{"role": "user", "content": "hi"}]}),
            "status": status,
            "lane": "general",
            "created_at": now,
            "deadline_at": now + deadline_in,
            "deliveries": 0,
        },
    )
    return job_id


def attempt(b: BackendConfig) -> dict[str, object]:
    return {"backend": b.name, "lane": "general", "started_at": time.time(), "outcome": "running"}


def test_the_start_takes_the_slot_and_opens_the_attempt_on_that_backend(r: redis.Redis) -> None:
    busy, free = backend("st-busy"), backend("st-free")
    r.delete(keys.slots(busy.name), keys.slots(free.name))
    slots, store = FleetSlots(r, 5.0, "w"), JobStore(r, ttl=60)
    assert slots.take([busy]) is not None  # busy is full
    job_id = routed_job(r)
    plan = Plan([busy, free])
    take = slots.offer(plan, job_id, [attempt(b) for b in plan.backends])
    started = store.start(job_id, None, "w", take=take)
    assert started.outcome == "ok" and started.slot == 2 and started.deliveries == 1
    opened = json.loads(r.hget(keys.job(job_id), "attempt_open") or "{}")
    assert opened["backend"] == "st-free"
    assert in_flight(r, free.name) == 1 and in_flight(r, busy.name) == 1
    slot = slots.adopt(free, take)
    assert slots.held()[-1] == slot and slots.renew() == []  # renewed like any other


def test_with_every_backend_full_the_start_writes_nothing(r: redis.Redis) -> None:
    only = backend("st-only")
    r.delete(keys.slots(only.name))
    slots, store = FleetSlots(r, 5.0, "w"), JobStore(r, ttl=60)
    assert slots.take([only]) is not None
    job_id = routed_job(r)
    before = r.hgetall(keys.job(job_id))
    take = slots.offer(Plan([only]), job_id, [attempt(only)])
    assert store.start(job_id, None, "w", take=take).outcome == "full"
    assert r.hgetall(keys.job(job_id)) == before  # not running, no delivery counted
    assert in_flight(r, only.name) == 1


def test_no_slot_is_taken_for_a_job_that_may_not_run(r: redis.Redis) -> None:
    only = backend("st-idle", max_concurrency=5)
    r.delete(keys.slots(only.name))
    slots, store = FleetSlots(r, 5.0, "w"), JobStore(r, ttl=60)
    late = routed_job(r, deadline_in=-1)
    started = store.start(late, None, "w", take=slots.offer(Plan([only]), late, [attempt(only)]))
    assert started.outcome == "ok" and started.expired and started.slot == 0
    done = routed_job(r, status="succeeded")
    refused = store.start(done, None, "w", take=slots.offer(Plan([only]), done, [attempt(only)]))
    assert refused.outcome == "succeeded"
    assert in_flight(r, only.name) == 0
