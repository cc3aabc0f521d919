"""Content retention: a finished job's prompt, result and event stream are kept for
``content_ttl_seconds`` (default one hour), its metadata for ``job_ttl_seconds``; with
``store_content: false`` they go when the job finishes, yet a waiting caller still
gets the result. Redis memory then grows with the rate, not with a week of content.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from laneway import keys
from laneway.celery_app import RUN_TASK, create_app
from laneway.jobs import JobStatus
from laneway.lanes import queue_for
from laneway.settings import Settings, load_settings
from laneway.store import AsyncJobStore, JobStore
from laneway.wire import MessageFactory
from producer.submit import new_job_id
from tests.side_system import SideSystem, side_system
from tests.system import System

DEFAULT_CONTENT_TTL = 3600


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "laneway/fast-path", "messages": [{"role": "user", "content": text}], **extra}


def answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    content: str = response.json()["choices"][0]["message"]["content"]
    assert content
    return content


def stored_text(r: redis.Redis, job_id: str) -> str:
    """Everything Redis holds under the job's keys, as text."""
    out = []
    for key in r.scan_iter(f"{keys.job(job_id)}*"):
        kind = r.type(key)
        if kind == "hash":
            out.append(json.dumps(r.hgetall(key)))
        elif kind == "stream":
            out.append(json.dumps(r.xrange(key)))
        else:
            out.append(json.dumps(r.dump(key), default=str))
    return "\n".join(out)


def test_the_defaults_keep_content_an_hour_and_metadata_for_the_job_ttl(
    system: System, r: redis.Redis
) -> None:
    """On default retention settings (the test system sets none of them)."""
    defaults = Settings.model_fields
    assert defaults["content_ttl_seconds"].default == DEFAULT_CONTENT_TTL
    assert defaults["store_content"].default is True
    assert "content_ttl_seconds" not in system.config.read_text()
    with system.client() as client:
        response = client.post("/v1/chat/completions", json=ask("hi there"))
        text = answer(response)
        job_id = response.headers["x-laneway-job-id"]
        job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["content_expired"] is False
    assert job["request"]["messages"][0]["content"] == "hi there"
    assert job["result"]["choices"][0]["message"]["content"] == text
    for key in (keys.content(job_id), keys.events(job_id), keys.final(job_id)):
        assert DEFAULT_CONTENT_TTL - 60 < r.ttl(key) <= DEFAULT_CONTENT_TTL, key
    job_ttl = load_settings(system.config).job_ttl_seconds
    assert job_ttl - 60 < r.ttl(keys.job(job_id)) <= job_ttl
    # the job record itself holds metadata only
    assert r.hmget(keys.job(job_id), ["request", "result"]) == [None, None]
    assert r.hget(keys.job(job_id), "status") == "succeeded"


@pytest.fixture(scope="module")
def retention(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SideSystem, str, str]]:
    """One fast-path worker and two APIs: content kept 2 s, and content not kept."""
    with side_system(system, tmp_path_factory.mktemp("retention"), db=13) as side:
        short = side.config("short", {"content_ttl_seconds": 2})
        nothing = side.config("nothing", {"store_content": False})
        side.start_worker("fast-path", short)
        short_api, nothing_api = side.start_api(short), side.start_api(nothing)
        side.wait_ready("fast-path")
        yield side, short_api, nothing_api


def wait_gone(r: redis.Redis, key: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while r.exists(key):
        assert time.monotonic() < deadline, f"{key} still there (ttl {r.ttl(key)})"
        time.sleep(0.1)


def test_after_the_content_ttl_the_job_says_its_content_expired(
    retention: tuple[SideSystem, str, str],
) -> None:
    side, api, _ = retention
    r = side.redis
    with httpx.Client(base_url=api, timeout=30) as client:
        response = client.post("/v1/chat/completions", json=ask("hello"))
        answer(response)
        job_id = response.headers["x-laneway-job-id"]
        fresh = client.get(f"/v1/jobs/{job_id}").json()
        assert fresh["content_expired"] is False and fresh["result"] and fresh["request"]
        wait_gone(r, keys.content(job_id))
        job = client.get(f"/v1/jobs/{job_id}")
        events = client.get(f"/v1/jobs/{job_id}/events")
    assert job.status_code == 200, job.text
    expired = job.json()
    assert expired["content_expired"] is True
    assert expired["request"] is None and expired["result"] is None
    # the metadata stays
    assert expired["status"] == "succeeded" and expired["lane"] == "fast-path"
    assert expired["backend"] and expired["usage"]["total_tokens"] > 0
    assert [a["outcome"] for a in expired["attempts"]] == ["succeeded"]
    assert r.ttl(keys.job(job_id)) > 3600
    assert not r.exists(keys.events(job_id)) and not r.exists(keys.final(job_id))
    # the event stream went with the content: it says so and ends
    assert events.status_code == 200
    data = [line for line in events.text.splitlines() if line.startswith("data:")]
    assert [json.loads(line.removeprefix("data:")) for line in data] == [
        {"status": "succeeded", "content_expired": True}
    ]


def test_an_idempotent_replay_after_the_content_ttl_says_the_answer_is_gone(
    retention: tuple[SideSystem, str, str],
) -> None:
    side, api, _ = retention
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with httpx.Client(base_url=api, timeout=30) as client:
        first = client.post("/v1/chat/completions", json=ask("hello"), headers=key)
        text = answer(first)
        job_id = first.headers["x-laneway-job-id"]
        again = client.post("/v1/chat/completions", json=ask("hello"), headers=key)
        assert answer(again) == text and again.headers["x-laneway-job-id"] == job_id
        wait_gone(side.redis, keys.content(job_id))
        started = time.monotonic()
        replays = [
            client.post("/v1/chat/completions", json=ask("hello"), headers=key),
            client.post("/v1/chat/completions", json=ask("hello", stream=True), headers=key),
        ]
        assert time.monotonic() - started < 5, "a replay must not wait for streams that are gone"
    for replay in replays:
        assert replay.status_code == 410, replay.text
        assert replay.json()["error"]["code"] == "content_expired"
        assert replay.headers["x-laneway-job-id"] == job_id


def test_without_stored_content_a_waiting_caller_still_gets_the_result(
    retention: tuple[SideSystem, str, str],
) -> None:
    side, _, api = retention
    r = side.redis
    prompt = f"hello {uuid.uuid4().hex}"
    with httpx.Client(base_url=api, timeout=30) as client:
        response = client.post("/v1/chat/completions", json=ask(prompt))
        text = answer(response)
        job_id = response.headers["x-laneway-job-id"]
        job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded"
    assert job["content_expired"] is True
    assert job["request"] is None and job["result"] is None
    assert r.hmget(keys.job(job_id), ["request", "result"]) == [None, None]
    assert not r.exists(keys.content(job_id))
    assert prompt not in stored_text(r, job_id)
    # the streams that carried the answer to its caller are about to go
    for key in (keys.events(job_id), keys.final(job_id)):
        assert 0 < r.ttl(key) <= 30, key
    assert text


def test_without_stored_content_a_stream_is_delivered_whole(
    retention: tuple[SideSystem, str, str],
) -> None:
    side, _, api = retention
    chunks: list[str] = []
    with (
        httpx.Client(base_url=api, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=ask("hello", stream=True)) as response,
    ):
        assert response.status_code == 200
        job_id = response.headers["x-laneway-job-id"]
        for line in response.iter_lines():
            if line.startswith("data:"):
                chunks.append(line.removeprefix("data:").strip())
    assert chunks[-1] == "[DONE]"
    text = "".join(
        json.loads(chunk)["choices"][0]["delta"].get("content") or "" for chunk in chunks[:-1]
    )
    assert text
    assert side.redis.hget(keys.job(job_id), "request") is None


# --- the scripts themselves (no workers involved)


@pytest.fixture
def scratch(system: System) -> Iterator[tuple[str, redis.Redis]]:
    url = system.redis_url.rsplit("/", 1)[0] + "/14"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    yield url, client
    client.flushdb()
    client.close()


def create_job(url: str, messages: MessageFactory, content_ttl: int, tenant: str = "t") -> str:
    async def create() -> str:
        client = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            job_id = new_job_id()
            now = time.time()
            fields = {
                "id": job_id,
                "tenant": tenant,
                "kind": "chat",
                "status": "routed",
                "lane": "general",
                "request": {"messages": [{"role": "user", "content": "keep me"}]},
                "created_at": now,
                "updated_at": now,
                "content_ttl": content_ttl,
            }
            message = messages.build(RUN_TASK, (job_id,), queue_for("general"))
            await AsyncJobStore(client, 3600).create(job_id, tenant, fields, message)
            return job_id
        finally:
            await client.aclose()

    return asyncio.run(create())


def test_a_dead_letter_is_requeued_with_its_prompt_while_it_is_kept(
    scratch: tuple[str, redis.Redis], system: System
) -> None:
    url, r = scratch
    messages = MessageFactory(create_app(load_settings(system.config)))
    store = JobStore(r, 3600)
    kept, dropped = create_job(url, messages, 600), create_job(url, messages, 0)
    for job_id in (kept, dropped):
        store.finish(job_id, JobStatus.FAILED, {"error": "down"}, dead_letter=True)
        assert r.hget(keys.job(job_id), "request") is None
    message = messages.build(RUN_TASK, (kept,), queue_for("general"))
    assert store.requeue(kept, message, {"lane": "general"}) == "ok"
    assert json.loads(r.hget(keys.job(kept), "request") or "{}")["messages"]
    assert not r.exists(keys.content(kept))
    message = messages.build(RUN_TASK, (dropped,), queue_for("general"))
    refused = store.requeue(dropped, message, {"lane": "general"})
    assert refused.startswith("not requeued") and "no longer kept" in refused
    assert r.hget(keys.job(dropped), "status") == "failed"


def test_the_tenant_index_keeps_its_newest_jobs_only(
    scratch: tuple[str, redis.Redis], system: System
) -> None:
    url, r = scratch
    messages = MessageFactory(create_app(load_settings(system.config)))
    index = keys.tenant_jobs("busy")
    now = time.time()
    r.zadd(index, {f"old-{n}": now - 100 + n / 1000 for n in range(10_000)})
    job_id = create_job(url, messages, 600, tenant="busy")
    assert r.zcard(index) == 10_000
    assert r.zscore(index, job_id) is not None
    assert r.zscore(index, "old-0") is None and r.zscore(index, "old-1") is not None
