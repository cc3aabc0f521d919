"""The OpenAI-compatible front door, driven by the official openai package."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import openai
import pytest

from laneway.heartbeat import live_roles
from tests.sse import read_events
from tests.system import System, chat, wait_job


@pytest.fixture
def client(system: System) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{system.api_url}/v1", api_key="unused", max_retries=0)


def sim_stats(system: System, name: str) -> dict[str, Any]:
    backend = next(
        b for lane in _settings(system).lanes.values() for b in lane.backends if b.name == name
    )
    stats: dict[str, Any] = httpx.get(backend.base_url.removesuffix("/v1") + "/admin/stats").json()
    return stats


def _settings(system: System):  # type: ignore[no-untyped-def]
    from laneway.settings import load_settings

    return load_settings(system.config)


def job_of(system: System, job_id: str) -> dict[str, Any]:
    with system.client() as http:
        job: dict[str, Any] = http.get(f"/v1/jobs/{job_id}").json()
        return job


def test_models_are_listed(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"auto", "laneway/fast-path", "laneway/general", "laneway/high-compute"} <= ids
    assert {"sim-small", "sim-medium", "sim-large", "sim-slow"} <= ids


def test_plain_completion(client: openai.OpenAI, system: System) -> None:
    raw = client.completions.with_raw_response.create(
        model="auto", prompt="Once upon a time", max_tokens=6
    )
    completion = raw.parse()
    assert completion.choices[0].text.strip()
    assert completion.usage is not None and completion.usage.completion_tokens == 6
    job = job_of(system, raw.headers["x-laneway-job-id"])
    assert job["status"] == "succeeded" and job["kind"] == "completion"
    assert raw.headers["x-laneway-lane"] == job["lane"]


def test_chat_completion_with_forced_lane(client: openai.OpenAI, system: System) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="laneway/general",
        messages=[{"role": "user", "content": "hi"}],  # rules alone would say fast-path
        max_tokens=5,
    )
    response = raw.parse()
    assert raw.headers["x-laneway-lane"] == "general"
    assert raw.headers["x-laneway-backend"] == "general-a"
    assert response.choices[0].message.content
    job = job_of(system, raw.headers["x-laneway-job-id"])
    assert job["lane"] == "general" and job["strategy"] == "route"


def test_backend_model_name_routes_to_its_lane_and_backend(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="sim-slow", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert raw.headers["x-laneway-lane"] == "high-compute"
    assert raw.headers["x-laneway-backend"] == "slow-a"


def test_streamed_chat_arrives_incrementally_with_usage(
    client: openai.OpenAI, system: System
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="sim-slow",
        messages=[{"role": "user", "content": "tell me a story"}],
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    arrivals: list[float] = []
    text: list[str] = []
    usage = None
    for chunk in raw.parse():
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
            continue
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.time())
            text.append(chunk.choices[0].delta.content)
    job = job_of(system, raw.headers["x-laneway-job-id"])
    assert job["status"] == "succeeded"
    assert len(text) == 30
    # the first token reached us well before the backend had finished generating
    assert arrivals[0] < job["finished_at"] - 0.3, (arrivals[0], job["finished_at"])
    assert arrivals[-1] - arrivals[0] > 0.3
    assert usage is not None and usage.completion_tokens == 30
    assert usage.total_tokens == usage.prompt_tokens + 30
    assert "".join(text) == job["result"]["choices"][0]["message"]["content"]


def test_streamed_completion(client: openai.OpenAI) -> None:
    pieces = [
        c.choices[0].text
        for c in client.completions.create(
            model="laneway/fast-path", prompt="Count:", max_tokens=4, stream=True
        )
        if c.choices and c.choices[0].text
    ]
    assert len(pieces) == 4


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-99", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"messages": []},
        {"messages": [{"role": "user", "content": "x"}], "temperature": 7},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": -1},
    ],
)
def test_bad_request(client: openai.OpenAI, kwargs: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="auto", **kwargs)
    assert caught.value.body and caught.value.param  # type: ignore[attr-defined]


def test_async_client_chat_and_stream(system: System) -> None:
    async def scenario() -> tuple[str, list[str]]:
        client = openai.AsyncOpenAI(base_url=f"{system.api_url}/v1", api_key="x", max_retries=0)
        answer = await client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hello"}], max_tokens=3
        )
        stream = await client.chat.completions.create(
            model="laneway/fast-path",
            messages=[{"role": "user", "content": "hello"}],
            max_tokens=5,
            stream=True,
        )
        pieces = [
            c.choices[0].delta.content
            async for c in stream
            if c.choices and c.choices[0].delta.content
        ]
        await client.close()
        return answer.choices[0].message.content or "", pieces

    text, pieces = asyncio.run(scenario())
    assert text.strip()
    assert len(pieces) == 5


def test_cancel_a_running_streaming_job_closes_the_backend_call(system: System) -> None:
    before = sim_stats(system, "slow-a")["cancelled"]
    with system.client() as http:
        body = chat(
            "write a long story",
            model="sim-slow",
            route="high-compute",
            max_tokens=400,
            stream=True,
        )
        job_id = http.post("/v1/jobs", json=body).json()["id"]
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as events:
            for event in read_events(events):
                if event.event == "chunks":
                    break
        cancelled = http.delete(f"/v1/jobs/{job_id}").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["attempts"][-1]["outcome"] == "cancelled"
    deadline = time.monotonic() + 5
    while sim_stats(system, "slow-a")["cancelled"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim_stats(system, "slow-a")["cancelled"] == before + 1
    time.sleep(0.5)
    assert job_of(system, job_id)["status"] == "cancelled"  # never overwritten afterwards


def test_cancel_a_running_non_streaming_job(system: System) -> None:
    before = sim_stats(system, "slow-a")["cancelled"]
    with system.client() as http:
        body = chat("write a long story", route="high-compute", model="sim-slow", max_tokens=400)
        job_id = http.post("/v1/jobs", json=body).json()["id"]
        deadline = time.monotonic() + 10
        while http.get(f"/v1/jobs/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.2)
        assert http.delete(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    deadline = time.monotonic() + 5
    while sim_stats(system, "slow-a")["cancelled"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim_stats(system, "slow-a")["cancelled"] == before + 1


def test_cancel_a_queued_job_never_reaches_a_backend(system: System) -> None:
    worker = system.workers.pop("worker-general")
    worker.process.terminate()
    worker.process.wait(30)
    try:
        served_before = sim_stats(system, "general-a")["received"]
        with system.client() as http:
            job_id = http.post("/v1/jobs", json=chat("hello", route="general")).json()["id"]
            assert http.get(f"/v1/jobs/{job_id}").json()["status"] == "routed"
            assert http.delete(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    finally:
        system.start_worker("general")
        system.wait_ready(["general"])
    # the restarted worker takes the message and drops it: the job is already final
    r = system.redis
    deadline = time.monotonic() + 10
    while r.llen("laneway.general") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    job = job_of(system, job_id)
    assert job["status"] == "cancelled" and job["attempts"] == [] and job["deliveries"] == 0
    assert sim_stats(system, "general-a")["received"] == served_before
    assert live_roles(r.hgetall("laneway:workers")).get("general", 0) >= 1


def test_disconnecting_from_a_streaming_call_cancels_the_job(
    client: openai.OpenAI, system: System
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="sim-slow",
        messages=[{"role": "user", "content": "a long story please"}],
        max_tokens=400,
        stream=True,
    )
    job_id = raw.headers["x-laneway-job-id"]
    stream = raw.parse()
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()
    deadline = time.monotonic() + 5
    while job_of(system, job_id)["status"] != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job_of(system, job_id)["status"] == "cancelled"


def test_events_resume_from_last_event_id(system: System) -> None:
    with system.client() as http:
        body = chat(
            "tell me a story", model="sim-slow", route="high-compute", max_tokens=40, stream=True
        )
        job_id = http.post("/v1/jobs", json=body).json()["id"]
        seen = []
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            for event in read_events(response):
                seen.append(event)
                if event.event == "chunks" and len([e for e in seen if e.event == "chunks"]) >= 2:
                    break  # drop the connection mid-stream
        last_id = seen[-1].id
        assert last_id
        with http.stream(
            "GET", f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": last_id}
        ) as response:
            rest = list(read_events(response))
        with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            everything = list(read_events(response))

    def key(events: list[Any]) -> list[tuple[str | None, str | None, str]]:
        return [(e.id, e.event, e.data) for e in events]

    assert key(seen) + key(rest) == key(everything)
    assert json.loads(everything[-1].data)["status"] == "succeeded"
    tokens = [c for e in everything if e.event == "chunks" for c in json.loads(e.data)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in tokens if c["choices"])
    assert (
        text == wait_job(http_client(system), job_id)["result"]["choices"][0]["message"]["content"]
    )


def http_client(system: System) -> httpx.Client:
    return system.client()


def test_a_stream_outliving_the_wait_timeout_ends_with_an_error_and_the_job_goes_on(
    system: System,
) -> None:
    api = system.start_api(env={"LANEWAY_API__WAIT_TIMEOUT_SECONDS": "1.5"})
    body = {
        "model": "sim-slow",  # 40 tokens/s: 200 tokens take ~5 s
        "messages": [{"role": "user", "content": "a long story please"}],
        "max_tokens": 200,
        "stream": True,
    }
    with httpx.Client(base_url=api, timeout=30) as http:
        with http.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            job_id = response.headers["x-laneway-job-id"]
            data = [event.data for event in read_events(response)]
        last = json.loads(data[-1])
        assert last["error"]["code"] == "timeout", data[-3:]
        assert f"GET /v1/jobs/{job_id}" in last["error"]["message"]
        assert "[DONE]" not in data
        assert wait_job(http, job_id, timeout=20)["status"] == "succeeded"
