"""Backpressure: a submit to a full queue is refused with 429, and an oversized body
with 413, in the API's error format, with nothing written.

The API here runs on a Redis database no worker reads, so queued jobs stay queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import yaml

from laneway.lanes import CLASSIFY_QUEUE, queue_for
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
