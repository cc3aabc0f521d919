"""Compatibility with a real, independently written OpenAI-compatible server: llama.cpp.

laneway's lanes are served by llama-cpp-python's server running a tiny
generated model (random weights, so the text is word salad), and the official
``openai`` SDK talks to laneway. Deselected by default (marker ``llamacpp``);
``make test-llamacpp`` builds what it needs and runs this module.

Backends: ``fast-path`` and ``general`` use ``tiny`` (never stops by itself, so
every answer is exactly ``max_tokens`` long), ``high-compute`` uses ``tiny-eos``
(stops by itself after ~10 tokens). Every lane has ``context_window: 512`` and
no fallback, so nothing can move a too-long prompt to a larger lane.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from laneway.lanes import LANES
from laneway.redis_server import EmbeddedRedis
from tests.llamacpp_helpers import LlamaServer, llama_python, make_tiny_model, start_llama_server
from tests.system import System, chat, wait_job, write_config

pytestmark = pytest.mark.llamacpp

N_CTX = 512
MAX_TOKENS = 8
LONG_PROMPT = "hello world " * 400  # ~800 tokens: more than the 512-token context
BACKEND_FOR_LANE: dict[str, str] = {lane: f"llama-{lane}" for lane in LANES}
GENERAL = "general"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def llama_py() -> Path:
    """Fails (not skips) every test with a clear message when the llama venv is missing."""
    return llama_python()


@pytest.fixture(scope="module")
def llama(llama_py: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """``tiny``: never stops by itself, so answers are exactly ``max_tokens`` long."""
    model = make_tiny_model(llama_py, "tiny")
    logs = tmp_path_factory.mktemp("llama")
    server = start_llama_server(llama_py, model, logs / "tiny.log", alias="tiny", n_ctx=N_CTX)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llama_eos(llama_py: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """``tiny-eos``: stops by itself after about ten tokens (finish_reason ``stop``)."""
    model = make_tiny_model(llama_py, "tiny-eos", "--eos-prob", "0.1")
    logs = tmp_path_factory.mktemp("llama-eos")
    server = start_llama_server(
        llama_py, model, logs / "tiny-eos.log", alias="tiny-eos", n_ctx=N_CTX
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llama_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("llama-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llama_system(
    tmp_path_factory: pytest.TempPathFactory,
    llama_redis: EmbeddedRedis,
    llama: LlamaServer,
    llama_eos: LlamaServer,
) -> Iterator[System]:
    """Classifier, one worker per lane and the API, with llama.cpp behind every lane."""
    from laneway.supervisor import Supervisor

    base = tmp_path_factory.mktemp("llama-system")
    servers: dict[str, LlamaServer] = {
        "fast-path": llama,
        "general": llama,
        "high-compute": llama_eos,
    }
    config = write_config(
        base / "laneway.yaml",
        llama_redis.url,
        {
            lane: [
                {
                    "name": BACKEND_FOR_LANE[lane],
                    "base_url": server.base_url,
                    "model": server.alias,
                    "context_window": N_CTX,
                    "max_concurrency": 1,
                }
            ]
            for lane, server in servers.items()
        },
    )
    # llama-cpp-python serves one request at a time: one in-flight call per lane.
    raw = yaml.safe_load(config.read_text())
    for lane in raw["lanes"].values():
        lane["concurrency"] = 1
    config.write_text(yaml.safe_dump(raw))

    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1")
    supervisor = Supervisor(base)
    sys_ = System(config=config, redis_url=llama_redis.url, supervisor=supervisor, env=env)
    try:
        roles = ("classify", *LANES)
        for role in roles:
            sys_.start_worker(role)
        sys_.api_url = sys_.start_api()
        sys_.wait_ready(roles)
        yield sys_
    finally:
        supervisor.stop()


@pytest.fixture
def client(llama_system: System) -> Iterator[openai.OpenAI]:
    sdk = openai.OpenAI(
        base_url=f"{llama_system.api_url}/v1", api_key="x", max_retries=0, timeout=30
    )
    yield sdk
    sdk.close()


def job_record(system: System, job_id: str) -> dict[str, Any]:
    with system.client() as http:
        return wait_job(http, job_id)


def assert_answered_by_llama(job: dict[str, Any], lane: str = GENERAL) -> None:
    assert job["status"] == "succeeded", job
    assert job["lane"] == lane, job
    assert job["backend"] == BACKEND_FOR_LANE[lane], job
    assert job["model"] in {"tiny", "tiny-eos"}, job
    assert [a["backend"] for a in job["attempts"]] == [BACKEND_FOR_LANE[lane]], job


# --------------------------------------------------------------- llama.cpp on its own


def test_llama_server_behaves_as_laneway_expects(llama: LlamaServer) -> None:
    """What laneway relies on: model listing, usage, the context error, no stream usage."""
    with httpx.Client(base_url=llama.base_url, timeout=30) as http:
        models = http.get("/models").json()
        assert [m["id"] for m in models["data"]] == ["tiny"]

        answer = http.post(
            "/chat/completions", json={"model": "tiny", **chat("hello", max_tokens=MAX_TOKENS)}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["usage"]["completion_tokens"] == MAX_TOKENS

        too_long = http.post(
            "/chat/completions", json={"model": "tiny", **chat(LONG_PROMPT, max_tokens=4)}
        )
        assert too_long.status_code == 400, too_long.text
        assert too_long.json()["error"]["code"] == "context_length_exceeded", too_long.text

        events: list[str] = []
        with http.stream(
            "POST",
            "/chat/completions",
            json={
                "model": "tiny",
                "stream": True,
                "stream_options": {"include_usage": True},
                **chat("hello", max_tokens=MAX_TOKENS),
            },
        ) as stream:
            assert stream.status_code == 200
            events = [line[6:] for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")) == (
        MAX_TOKENS
    )
    # llama-cpp-python never reports usage while streaming: laneway has to count.
    assert not any(c.get("usage") for c in chunks)


# ------------------------------------------------------------------- native jobs API


def test_native_job_is_answered_by_llama(llama_system: System) -> None:
    with llama_system.client() as http:
        accepted = http.post(
            "/v1/jobs", json=chat("hello tiny llama", route=GENERAL, max_tokens=MAX_TOKENS)
        )
        assert accepted.status_code == 202, accepted.text
        job = wait_job(http, accepted.json()["id"])
    assert_answered_by_llama(job)
    assert job["kind"] == "chat"
    answer = job["result"]["choices"][0]["message"]["content"]
    assert isinstance(answer, str) and answer.strip()
    assert job["result"]["choices"][0]["finish_reason"] == "length"
    assert job["usage"]["completion_tokens"] == MAX_TOKENS
    assert job["usage"]["prompt_tokens"] > 0


def test_native_completion_job_is_answered_by_llama(llama_system: System) -> None:
    with llama_system.client() as http:
        accepted = http.post(
            "/v1/jobs", json={"prompt": "hello world", "route": GENERAL, "max_tokens": MAX_TOKENS}
        )
        assert accepted.status_code == 202, accepted.text
        job = wait_job(http, accepted.json()["id"])
    assert_answered_by_llama(job)
    assert job["kind"] == "completion"
    assert job["result"]["object"] == "text_completion"
    assert job["result"]["choices"][0]["text"].strip()
    assert job["usage"]["completion_tokens"] == MAX_TOKENS


def test_native_max_completion_tokens_is_honoured(llama_system: System) -> None:
    """llama-cpp-python ignores ``max_completion_tokens`` (the OpenAI SDK's newer name) and
    would generate to the end of the context; laneway must pass the limit on as
    ``max_tokens``."""
    body = chat("hello", route=GENERAL, max_completion_tokens=MAX_TOKENS)
    with llama_system.client() as http:
        accepted = http.post("/v1/jobs", json=body)
        assert accepted.status_code == 202, accepted.text
        job = wait_job(http, accepted.json()["id"])
    assert_answered_by_llama(job)
    assert job["usage"]["completion_tokens"] == MAX_TOKENS, job["usage"]


def test_native_job_longer_than_the_context_fails_clearly(llama_system: System) -> None:
    with llama_system.client() as http:
        accepted = http.post("/v1/jobs", json=chat(LONG_PROMPT, route=GENERAL, max_tokens=4))
        assert accepted.status_code == 202, accepted.text
        job = wait_job(http, accepted.json()["id"])
    assert job["status"] == "failed", job
    assert "context" in (job["error"] or "").lower(), job["error"]
    # No lane has a larger context window, so nothing else may have been tried.
    assert {a["lane"] for a in job["attempts"]} <= {GENERAL}, job["attempts"]
    assert job["lane"] == GENERAL


# ---------------------------------------------------------- OpenAI-compatible front door


def test_models_lists_auto_and_the_lanes(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"auto", *(f"laneway/{lane}" for lane in LANES)} <= ids, ids


def test_chat_completion(client: openai.OpenAI, llama_system: System) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="laneway/general",
        messages=[{"role": "user", "content": "hello tiny llama, tell me about the queue"}],
        max_tokens=MAX_TOKENS,
    )
    assert raw.headers.get("x-laneway-lane") == GENERAL, dict(raw.headers)
    job_id = raw.headers.get("x-laneway-job-id")
    assert job_id, dict(raw.headers)
    completion = raw.parse()
    assert completion.choices[0].message.role == "assistant"
    assert (completion.choices[0].message.content or "").strip()
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == MAX_TOKENS
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    job = job_record(llama_system, job_id)
    assert_answered_by_llama(job)
    assert job["result"]["choices"][0]["message"]["content"] == (
        completion.choices[0].message.content
    )


def test_auto_model_is_routed_and_answered(client: openai.OpenAI, llama_system: System) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], max_tokens=MAX_TOKENS
    )
    lane = raw.headers.get("x-laneway-lane")
    assert lane in LANES, dict(raw.headers)
    completion = raw.parse()
    assert (completion.choices[0].message.content or "").strip()
    job = job_record(llama_system, raw.headers["x-laneway-job-id"])
    assert_answered_by_llama(job, lane)


def _stream_chat(
    client: openai.OpenAI, model: str, max_tokens: int
) -> tuple[str, list[openai.types.chat.ChatCompletionChunk]]:
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "hello tiny llama, write a stream"}],
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.headers.get("content-type", "").startswith("text/event-stream"), dict(raw.headers)
    job_id = raw.headers.get("x-laneway-job-id")
    assert job_id, dict(raw.headers)
    with raw.parse() as stream:
        chunks = list(stream)  # ends only on `data: [DONE]` or the end of the response
    return job_id, chunks


def _content_chunks(chunks: list[openai.types.chat.ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def _finish_reasons(chunks: list[openai.types.chat.ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


def test_streaming_chat_completion_counts_usage_itself(
    client: openai.OpenAI, llama_system: System
) -> None:
    job_id, chunks = _stream_chat(client, "laneway/general", MAX_TOKENS)
    content = _content_chunks(chunks)
    assert len(content) >= 2, chunks
    assert "".join(content).strip()
    finish = _finish_reasons(chunks)
    assert finish == ["length"], chunks
    # llama-cpp-python sends no usage while streaming; laneway adds the final usage chunk.
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and chunks[-1].usage is not None, chunks[-3:]
    assert chunks[-1].choices == [], chunks[-1]
    usage = chunks[-1].usage
    assert usage.completion_tokens == MAX_TOKENS, usage
    assert usage.prompt_tokens > 0, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert len({c.id for c in chunks}) == 1, "every chunk of one completion shares its id"
    job = job_record(llama_system, job_id)
    assert_answered_by_llama(job)
    assert job["usage"]["completion_tokens"] == MAX_TOKENS, job["usage"]


def test_streaming_ends_when_the_model_stops_by_itself(
    client: openai.OpenAI, llama_system: System
) -> None:
    """``tiny-eos`` (high-compute) stops after ~10 tokens: finish_reason ``stop``."""
    max_tokens = 200  # P(no stop within 200 tokens) is negligible; the model is fast
    job_id, chunks = _stream_chat(client, "laneway/high-compute", max_tokens)
    finish = _finish_reasons(chunks)
    assert finish == ["stop"], chunks
    assert chunks[-1].usage is not None, chunks[-3:]
    # Sampling may pick the end token first: zero generated tokens is a valid answer here.
    assert chunks[-1].usage.completion_tokens < max_tokens, chunks[-1].usage
    assert chunks[-1].usage.completion_tokens == len(_content_chunks(chunks)), chunks
    job = job_record(llama_system, job_id)
    assert_answered_by_llama(job, "high-compute")


def test_completions(client: openai.OpenAI, llama_system: System) -> None:
    raw = client.completions.with_raw_response.create(
        model="laneway/general", prompt="hello world, the router", max_tokens=MAX_TOKENS
    )
    assert raw.headers.get("x-laneway-lane") == GENERAL, dict(raw.headers)
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text.strip()
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == MAX_TOKENS
    job = job_record(llama_system, raw.headers["x-laneway-job-id"])
    assert_answered_by_llama(job)
    assert job["kind"] == "completion"


def test_streaming_completions(client: openai.OpenAI, llama_system: System) -> None:
    raw = client.completions.with_raw_response.create(
        model="laneway/general",
        prompt="hello world, the router",
        max_tokens=MAX_TOKENS,
        stream=True,
        stream_options={"include_usage": True},
    )
    job_id = raw.headers.get("x-laneway-job-id")
    assert job_id, dict(raw.headers)
    with raw.parse() as stream:
        chunks = list(stream)
    texts = [c.choices[0].text for c in chunks if c.choices and c.choices[0].text]
    assert len(texts) >= 2 and "".join(texts).strip(), chunks
    assert chunks[-1].usage is not None, chunks[-3:]
    assert chunks[-1].usage.completion_tokens == MAX_TOKENS, chunks[-1].usage
    assert_answered_by_llama(job_record(llama_system, job_id))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_prompt_longer_than_the_context_is_a_bad_request(
    client: openai.OpenAI, llama_system: System, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        response = client.chat.completions.create(
            model="laneway/general",
            messages=[{"role": "user", "content": LONG_PROMPT}],
            max_tokens=4,
            stream=stream,
        )
        if stream:  # an error may only show once the stream is read; it must not
            list(response)
    error = caught.value
    assert "context" in error.message.lower(), (error.status_code, error.body)
    job_id = error.response.headers.get("x-laneway-job-id")
    if job_id:  # the job may also be refused before it is created
        job = job_record(llama_system, job_id)
        assert job["status"] == "failed", job
        assert "context" in (job["error"] or "").lower(), job
        assert {a["lane"] for a in job["attempts"]} <= {GENERAL}, job["attempts"]


def test_a_failed_stream_does_not_break_the_next_request(
    client: openai.OpenAI, llama_system: System
) -> None:
    """After a streamed request fails inside llama-cpp-python (200, then the connection is
    dropped with no event), the kept-alive connection is dead: the next request on it gets
    ECONNRESET. laneway's pooled backend client must not turn that into a failed job."""
    with pytest.raises(openai.APIError):
        list(
            client.chat.completions.create(
                model="laneway/general",
                messages=[{"role": "user", "content": LONG_PROMPT}],
                max_tokens=4,
                stream=True,
            )
        )
    for stream in (True, False):
        raw = client.chat.completions.with_raw_response.create(
            model="laneway/general",
            messages=[{"role": "user", "content": "hello again"}],
            max_tokens=MAX_TOKENS,
            stream=stream,
        )
        job = job_record(llama_system, raw.headers["x-laneway-job-id"])
        assert_answered_by_llama(job)
