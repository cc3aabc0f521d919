"""Backpressure: a submit to a full queue is refused with 429, and an oversized body
with 413, in the API's error format, with nothing written.

The API here runs on a Redis database no worker reads, so queued jobs stay queued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
import yaml

from laneway.celery_app import RUN_TASK, create_app
from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.settings import load_settings
from laneway.store import AsyncJobStore, Created, DepthLimits, QueueFull
from laneway.wire import MessageFactory, queue_keys
from producer.submit import new_job_id
from tests.side_system import side_system
from tests.system import System, chat

DB = 7


@pytest.fixture(scope="module")
def idle(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    config: dict[str, Any] = yaml.safe_load(system.config.read_text())
    url = system.redis_url.rsplit("/", 1)[0] + f"/{DB}"
    config["redis_url"] = url
    config["classifier"]["max_queue_depth"] = 1
    config["lanes"]["fast-path"]["max_queue_depth"] = 2
    config["api"] = {"max_body_bytes": 4096}
    path = tmp_path_factory.mktemp("backpressure") / "laneway.yaml"
    path.write_text(yaml.safe_dump(config))
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    api = system.start_api(env={"LANEWAY_CONFIG": str(path)})
    yield api, r
    r.flushdb()
    r.close()


def job_records(r: redis.Redis) -> int:
    return sum(1 for key in r.scan_iter("laneway:job:*") if key.count(":") == 2)


def assert_queue_full(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "queue_full"
    assert "is full" in error["message"]


def test_a_full_lane_queue_refuses_submits_routed_to_it(idle: tuple[str, Any]) -> None:
    api, r = idle
    with httpx.Client(base_url=api, timeout=10) as client:
        for _ in range(2):
            assert client.post("/v1/jobs", json=chat("hi", route="fast-path")).status_code == 202
        jobs_before = job_records(r)
        assert_queue_full(client.post("/v1/jobs", json=chat("hi", route="fast-path")))
        assert job_records(r) == jobs_before, "a refused job is not written"
        assert r.llen(queue_for("fast-path")) == 2
        # other lanes still take work
        assert client.post("/v1/jobs", json=chat("hi", route="general")).status_code == 202


def test_a_full_classify_queue_refuses_the_openai_endpoint_at_once(
    idle: tuple[str, Any],
) -> None:
    api, r = idle
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=api, timeout=10) as client:
        assert client.post("/v1/jobs", json=chat("hi")).status_code == 202
        assert r.llen(CLASSIFY_QUEUE) == 1
        # the blocking read pipelined behind the refused create must not wait
        assert_queue_full(client.post("/v1/chat/completions", json=body))
        assert_queue_full(client.post("/v1/jobs", json=chat("hi again")))
        assert r.llen(CLASSIFY_QUEUE) == 1


def test_an_oversized_body_is_refused_with_413(idle: tuple[str, Any]) -> None:
    api, r = idle
    queued = r.llen(queue_for("general"))
    body = chat("x" * 5000, route="general")
    response = httpx.post(f"{api}/v1/jobs", json=body, timeout=10)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert r.llen(queue_for("general")) == queued


def test_a_refused_submit_writes_nothing_on_either_endpoint(idle: tuple[str, Any]) -> None:
    api, r = idle
    r.flushdb()
    forced = {"model": "laneway/fast-path", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=api, timeout=10) as client:
        for _ in range(2):
            assert client.post("/v1/jobs", json=chat("hi", route="fast-path")).status_code == 202
        # no worker uses this database (no probe locks or breakers): DBSIZE is exact
        keys_before, stats_before = r.dbsize(), r.hgetall("laneway:stats")
        assert_queue_full(client.post("/v1/jobs", json=chat("hi", route="fast-path")))
        # the OpenAI endpoint pipelines a blocking read behind the create: the entry that
        # wakes it goes too
        assert_queue_full(client.post("/v1/chat/completions", json=forced))
        assert r.dbsize() == keys_before, sorted(r.keys())
    rejected = int(r.hget("laneway:stats", "rejected") or 0)
    assert rejected == int(stats_before.get("rejected", 0)) + 2


def test_the_depth_counts_every_priority_sub_list(idle: tuple[str, Any]) -> None:
    api, r = idle
    r.flushdb()
    with httpx.Client(base_url=api, timeout=10) as client:
        for _ in range(2):  # low priority: kombu's sub-list, not the queue's own list
            body = chat("hi", route="fast-path", priority="low")
            assert client.post("/v1/jobs", json=body).status_code == 202
        assert r.llen(queue_for("fast-path")) == 0
        assert_queue_full(client.post("/v1/jobs", json=chat("hi", route="fast-path")))
        assert_queue_full(
            client.post("/v1/jobs", json=chat("hi", route="fast-path", priority="high"))
        )
    assert sum(r.llen(key) for key in queue_keys(queue_for("fast-path"))) == 2


def test_the_scripts_count_the_sub_lists_the_transport_uses(
    idle: tuple[str, Any], system: System
) -> None:
    """create.lua's depth is the sum over wire.queue_keys: one message in each list."""
    _, r = idle
    r.flushdb()
    queue = queue_for("general")
    for key in queue_keys(queue):
        r.lpush(key, "{}")
    messages = MessageFactory(create_app(load_settings(system.config)))
    url = system.redis_url.rsplit("/", 1)[0] + f"/{DB}"

    async def create(limit: int) -> Created:
        client = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            store = AsyncJobStore(client, 600)
            job_id = new_job_id()
            message = messages.build(RUN_TASK, (job_id,), queue)
            fields = {"id": job_id, "status": "routed", "created_at": time.time()}
            return await store.create(job_id, "default", fields, message, limits=DepthLimits(limit))
        finally:
            await client.aclose()

    with pytest.raises(QueueFull) as refused:
        asyncio.run(create(limit=len(queue_keys(queue))))
    assert refused.value.depth == len(queue_keys(queue))
    assert asyncio.run(create(limit=len(queue_keys(queue)) + 1)).created


# --- the classifier's route: a classify worker and no lane workers, small lane queues

CODE = "write a python function that merges two sorted lists"  # rules: high-compute
GREETING = "hi"  # rules: fast-path
WAIT_LIMIT = 4


@pytest.fixture(scope="module")
def classifying(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, redis.Redis]]:
    """Every lane's queue holds 2 jobs at most; fast-path has no fallback, high-compute
    falls back to general (the default); a job waits for room up to 4 s after its
    submission. Nothing runs a lane task: routed jobs stay."""
    with side_system(system, tmp_path_factory.mktemp("classifying"), db=12) as side:
        lanes = {lane: {"max_queue_depth": 2} for lane in LANES}
        lanes["fast-path"]["fallback"] = []
        classifier = {"max_queue_depth": 50, "unclassified_after_seconds": WAIT_LIMIT}
        config = side.config("laneway", {"lanes": lanes, "classifier": classifier})
        side.start_worker("classify", config)
        api = side.start_api(config)
        side.wait_ready("classify")
        yield api, side.redis


def depth(r: redis.Redis, lane: str) -> int:
    return sum(int(r.llen(key)) for key in queue_keys(queue_for(lane)))


def wait_not_queued(client: httpx.Client, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] != "queued" or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def fill(client: httpx.Client, lane: str, count: int) -> None:
    for _ in range(count):
        assert client.post("/v1/jobs", json=chat("x", route=lane)).status_code == 202


def test_a_classified_job_spills_to_a_fallback_lane_with_room(
    classifying: tuple[str, redis.Redis],
) -> None:
    api, r = classifying
    r.delete(*[key for lane in LANES for key in queue_keys(queue_for(lane))])
    with httpx.Client(base_url=api, timeout=10) as client:
        fill(client, "high-compute", 2)
        accepted = client.post("/v1/jobs", json=chat(CODE))
        assert accepted.status_code == 202, accepted.text
        job = wait_not_queued(client, accepted.json()["id"])
    assert job["status"] == "routed", job
    assert job["lane"] == "general" and job["queue"] == queue_for("general")
    assert "high-compute full" in job["reason"]
    assert depth(r, "high-compute") == 2 and depth(r, "general") == 1


def test_a_classified_job_waits_for_room_in_its_lane(
    classifying: tuple[str, redis.Redis],
) -> None:
    api, r = classifying
    r.delete(*[key for lane in LANES for key in queue_keys(queue_for(lane))])
    with httpx.Client(base_url=api, timeout=20) as client:
        fill(client, "fast-path", 2)
        accepted = client.post("/v1/jobs", json=chat(GREETING))  # general has room: accepted
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["id"]
        deadline = time.monotonic() + 10
        while int(r.hget("laneway:stats", "waited_for_room") or 0) == 0:
            assert time.monotonic() < deadline, "the job never waited"
            time.sleep(0.05)
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
        r.rpop(queue_for("fast-path"))  # as a lane worker would take one
        job = wait_not_queued(client, job_id)
    assert job["status"] == "routed" and job["lane"] == "fast-path", job
    assert depth(r, "fast-path") == 2


def test_a_classified_job_to_a_full_lane_with_nowhere_to_go_fails_visibly(
    classifying: tuple[str, redis.Redis],
) -> None:
    api, r = classifying
    r.delete(*[key for lane in LANES for key in queue_keys(queue_for(lane))])
    with httpx.Client(base_url=api, timeout=20) as client:
        fill(client, "fast-path", 2)
        accepted = client.post("/v1/jobs", json=chat(GREETING))  # general has room: accepted
        assert accepted.status_code == 202, accepted.text
        job = wait_not_queued(client, accepted.json()["id"])
        # it waited for room until its classify deadline, then failed
        assert job["finished_at"] - job["created_at"] > WAIT_LIMIT - 1.5
        # a caller waiting on the OpenAI endpoint hears it as a full queue
        waited = client.post(
            "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": GREETING}]},
        )
    assert job["status"] == "failed", job
    assert job["error_type"] == "queue_full" and "fast-path" in job["error"]
    assert job["lane"] == "fast-path" and job["finished_at"]
    assert_queue_full(waited)
    assert depth(r, "fast-path") == 2
    assert depth(r, "general") == 0


def test_no_lane_queue_grows_past_its_limit_under_a_burst(
    classifying: tuple[str, redis.Redis],
) -> None:
    """More classified submits than every lane holds: the API refuses once the lanes
    are full, and no queue ever exceeds its max_queue_depth."""
    api, r = classifying
    r.delete(*[key for lane in LANES for key in queue_keys(queue_for(lane))])
    prompts = [GREETING, CODE, "what is the capital of France?"] * 8

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api, timeout=20) as client:
            return list(
                await asyncio.gather(*(client.post("/v1/jobs", json=chat(p)) for p in prompts))
            )

    responses = asyncio.run(burst())
    codes = [response.status_code for response in responses]
    assert set(codes) <= {202, 429} and 429 in codes, codes
    for response in responses:
        if response.status_code == 429:
            assert response.headers["retry-after"] == "1"
    with httpx.Client(base_url=api, timeout=10) as client:
        jobs = [wait_not_queued(client, x.json()["id"]) for x in responses if x.status_code == 202]
    for lane in LANES:
        assert depth(r, lane) <= 2, lane
    for job in jobs:
        assert job["status"] == "routed" or job["error_type"] == "queue_full", job
    routed = [job for job in jobs if job["status"] == "routed"]
    assert len(routed) == sum(depth(r, lane) for lane in LANES)
    # once every lane is full, unclassified work is refused at the API, nothing written
    with httpx.Client(base_url=api, timeout=10) as client:
        for lane in LANES:
            fill(client, lane, 2 - depth(r, lane))
        keys_before = r.dbsize()
        assert_queue_full(client.post("/v1/jobs", json=chat(GREETING)))
        assert_queue_full(client.post("/v1/jobs", json=chat(CODE, priority="low")))
    assert r.dbsize() == keys_before
