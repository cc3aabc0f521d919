"""Every answer of the OpenAI-compatible routes, checked field by field against the
shapes of OpenAI's published spec (tests/openai_spec.py), whatever the backend sends.

Two kinds of backend answer: the fast-path sims send complete answers (except
``message.refusal``, which llama.cpp and vLLM leave out too); general-a is switched
to "sparse" and also leaves out id, created, logprobs and null finish reasons.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.openai_spec import (
    ChatChunk,
    ChatCompletion,
    ErrorResponse,
    Model,
    ModelList,
    TextChunk,
    TextCompletion,
)
from tests.sim_helpers import SimBackendProcess
from tests.system import System, wait_job

COMPLETE = "laneway/fast-path"
"""Served by fast-a and fast-b."""
SPARSE = "laneway/general"
"""Served by general-a, which leaves fields out while this module runs."""
BACKENDS = {COMPLETE: {"fast-a", "fast-b"}, SPARSE: {"general-a"}}
MESSAGES = [{"role": "user", "content": "hi there"}]
TOOLS = [
    {"type": "function", "function": {"name": "alpha", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "beta", "parameters": {"type": "object"}}},
]


@pytest.fixture(scope="module", autouse=True)
def sparse_general(sims: dict[str, SimBackendProcess]) -> Iterator[None]:
    faults = f"{sims['general-a'].root}/admin/faults"
    httpx.post(faults, json={"sparse": True}).raise_for_status()
    yield
    httpx.post(faults, json={"sparse": False}).raise_for_status()


@pytest.fixture
def http(system: System) -> Iterator[httpx.Client]:
    with system.client() as client:
        yield client


def sse_events(raw: bytes) -> list[dict[str, str]]:
    """The events of a raw SSE body, split where OpenAI's clients split: on "\\n\\n"."""
    assert raw.endswith(b"\n\n"), raw[-40:]
    events = []
    for block in raw.decode().split("\n\n")[:-1]:
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            assert name not in fields, f"two {name!r} lines in one event: {block!r}"
            fields[name] = value.removeprefix(" ")
        if fields:
            events.append(fields)
    return events


def stream(http: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    """POST with ``stream: true``; the response with its raw body read."""
    with http.stream("POST", path, json={**body, "stream": True}, headers=headers) as response:
        response.read()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response


def data_payloads(response: httpx.Response) -> list[str]:
    payloads = [event["data"] for event in sse_events(response.content)]
    assert payloads[-1] == "[DONE]"
    return payloads[:-1]


def merged_tool_calls(chunks: list[ChatChunk], choice: int) -> list[dict[str, Any]]:
    """What a client that follows the spec builds from a choice's tool-call deltas."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for c in chunk.choices:
            for delta in c.delta.tool_calls if c.index == choice else []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                if delta.function is not None:
                    call["name"] = delta.function.name or call["name"]
                    call["arguments"] += delta.function.arguments
    return [calls[i] for i in sorted(calls)]


# -- non-streamed answers ---------------------------------------------------------------


def test_chat_answer_has_the_spec_shape_whatever_the_backend(http: httpx.Client) -> None:
    for model, backends in BACKENDS.items():
        response = http.post(
            "/v1/chat/completions", json={"model": model, "messages": MESSAGES, "max_tokens": 5}
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-laneway-backend"] in backends
        answer = ChatCompletion.model_validate_json(response.text)
        assert [c.index for c in answer.choices] == [0]
        message = answer.choices[0].message
        assert message.content and message.refusal is None and message.tool_calls == []
        assert answer.choices[0].finish_reason == "length"
        assert answer.usage is not None and answer.usage.completion_tokens == 5

    response = http.post(
        "/v1/chat/completions",
        json={"model": COMPLETE, "messages": MESSAGES, "n": 2, "tools": TOOLS},
    )
    assert response.status_code == 200, response.text
    answer = ChatCompletion.model_validate_json(response.text)
    assert [c.index for c in answer.choices] == [0, 1]
    for choice in answer.choices:
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None and choice.message.refusal is None
        assert [call.function.name for call in choice.message.tool_calls] == ["alpha", "beta"]
        assert all(
            isinstance(json.loads(c.function.arguments), dict) for c in choice.message.tool_calls
        )


def test_completion_answer_has_the_spec_shape_whatever_the_backend(http: httpx.Client) -> None:
    for model, backends in BACKENDS.items():
        response = http.post(
            "/v1/completions", json={"model": model, "prompt": "Once", "max_tokens": 4, "n": 2}
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-laneway-backend"] in backends
        answer = TextCompletion.model_validate_json(response.text)
        assert [c.index for c in answer.choices] == [0, 1]
        assert all(c.text and c.finish_reason == "length" for c in answer.choices)
        assert answer.usage is not None and answer.usage.completion_tokens == 8


# -- streamed answers -------------------------------------------------------------------


def test_streamed_chat_chunks_have_the_spec_shape(http: httpx.Client) -> None:
    for model, backends in BACKENDS.items():
        response = stream(
            http,
            "/v1/chat/completions",
            {
                "model": model,
                "messages": MESSAGES,
                "max_tokens": 6,
                "stream_options": {"include_usage": True},
            },
        )
        assert response.headers["x-laneway-backend"] in backends
        *chunks, last = [ChatChunk.model_validate_json(p) for p in data_payloads(response)]
        assert all(c.choices and c.usage is None for c in chunks)
        assert last.choices == [] and last.usage is not None
        assert last.usage.completion_tokens == 6
        assert len({c.id for c in [*chunks, last]}) == 1
        assert len({c.created for c in [*chunks, last]}) == 1
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert len(text.split()) == 6
        assert [c.choices[0].finish_reason for c in chunks].count("length") == 1
        assert chunks[-1].choices[0].finish_reason == "length"


def test_streamed_completion_chunks_have_the_spec_shape(http: httpx.Client) -> None:
    for model, backends in BACKENDS.items():
        response = stream(
            http,
            "/v1/completions",
            {
                "model": model,
                "prompt": "Count:",
                "max_tokens": 4,
                "stream_options": {"include_usage": True},
            },
        )
        assert response.headers["x-laneway-backend"] in backends
        *chunks, last = [TextChunk.model_validate_json(p) for p in data_payloads(response)]
        assert all(c.choices and c.usage is None for c in chunks)
        assert last.choices == [] and last.usage is not None
        assert last.usage.completion_tokens == 4
        assert len({c.id for c in [*chunks, last]}) == 1
        assert len("".join(c.choices[0].text for c in chunks).split()) == 4
        assert chunks[-1].choices[0].finish_reason == "length"


def test_sse_events_end_in_two_newlines_and_the_stream_names_its_backend(
    http: httpx.Client,
) -> None:
    response = stream(
        http, "/v1/chat/completions", {"model": COMPLETE, "messages": MESSAGES, "max_tokens": 8}
    )
    assert b"\r" not in response.content
    # one event per chunk: a client splitting on "\n\n" sees every one of them
    assert len(data_payloads(response)) >= 8
    job_id = response.headers["x-laneway-job-id"]
    job = wait_job(http, job_id)
    assert response.headers["x-laneway-backend"] == job["backend"]
    assert response.headers["x-laneway-lane"] == "fast-path"

    with http.stream("GET", f"/v1/jobs/{job_id}/events") as events:
        raw = events.read()
    assert b"\r" not in raw
    parsed = sse_events(raw)
    assert [e["event"] for e in parsed][-1] == "status"
    assert "chunks" in {e["event"] for e in parsed}
    assert all(e["id"] and json.loads(e["data"]) for e in parsed)


# -- the assembled answer of a streamed job ---------------------------------------------


def test_streamed_job_answer_assembles_every_choice_and_tool_call(
    http: httpx.Client,
) -> None:
    key = f"spec-{uuid.uuid4()}"
    body = {"model": COMPLETE, "messages": MESSAGES, "n": 2, "tools": TOOLS}
    response = stream(http, "/v1/chat/completions", body, **{"Idempotency-Key": key})
    chunks = [ChatChunk.model_validate_json(p) for p in data_payloads(response)]
    job_id = response.headers["x-laneway-job-id"]

    job = wait_job(http, job_id)
    assert job["status"] == "succeeded"
    answer = ChatCompletion.model_validate_json(json.dumps(job["result"]))
    replay = http.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 200, replay.text
    assert replay.headers["x-laneway-job-id"] == job_id
    assert ChatCompletion.model_validate_json(replay.text) == answer

    assert answer.id == chunks[0].id and answer.created == chunks[0].created
    assert [c.index for c in answer.choices] == [0, 1]
    for choice in answer.choices:
        expected = merged_tool_calls(chunks, choice.index)
        assert [c["name"] for c in expected] == ["alpha", "beta"]
        got = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in choice.message.tool_calls
        ]
        assert got == expected
        assert all(json.loads(c["arguments"])["text"] for c in got)
        assert choice.message.content is None and choice.message.refusal is None
        assert choice.finish_reason == "tool_calls" and choice.logprobs is None
    # the two choices are different answers, not one answer twice
    assert answer.choices[0].message.tool_calls != answer.choices[1].message.tool_calls


def test_streamed_job_answer_assembles_every_choice_of_text(http: httpx.Client) -> None:
    """Through the sparse backend: what it leaves out is filled in the assembled answer."""
    for path, shape, request in (
        ("/v1/chat/completions", ChatCompletion, {"messages": MESSAGES}),
        ("/v1/completions", TextCompletion, {"prompt": "Once upon"}),
    ):
        key = f"spec-{uuid.uuid4()}"
        body = {"model": SPARSE, "n": 2, "max_tokens": 5, **request}
        response = stream(http, path, body, **{"Idempotency-Key": key})
        texts = ["", ""]
        for payload in data_payloads(response):
            chunk = json.loads(payload)
            for c in chunk["choices"]:
                texts[c["index"]] += c["text"] if "text" in c else c["delta"].get("content") or ""

        job = wait_job(http, response.headers["x-laneway-job-id"])
        answer = shape.model_validate_json(json.dumps(job["result"]))
        replay = http.post(path, json=body, headers={"Idempotency-Key": key})
        assert replay.status_code == 200, replay.text
        assert shape.model_validate_json(replay.text) == answer
        assert [c.index for c in answer.choices] == [0, 1]
        if isinstance(answer, ChatCompletion):
            assert [c.message.content for c in answer.choices] == texts
            assert all(c.message.refusal is None for c in answer.choices)
        else:
            assert [c.text for c in answer.choices] == texts
        assert all(c.finish_reason == "length" and c.logprobs is None for c in answer.choices)
        assert texts[0] != texts[1] and all(len(t.split()) == 5 for t in texts)
        assert answer.usage is not None and answer.usage.completion_tokens == 10


# -- models and errors ------------------------------------------------------------------


def test_models_are_listed_and_retrieved_in_the_spec_shape(
    http: httpx.Client, system: System
) -> None:
    listed = ModelList.model_validate_json(http.get("/v1/models").text)
    assert {"auto", "laneway/fast-path", "sim-small"} <= {m.id for m in listed.data}
    for model in listed.data:
        response = http.get(f"/v1/models/{model.id}")
        assert response.status_code == 200, (model.id, response.text)
        assert Model.model_validate_json(response.text) == model

    client = openai.OpenAI(base_url=f"{system.api_url}/v1", api_key="unused", max_retries=0)
    assert client.models.retrieve("auto").id == "auto"
    assert client.models.retrieve("laneway/high-compute").owned_by == "laneway"

    missing = http.get("/v1/models/gpt-99")
    assert missing.status_code == 404
    error = ErrorResponse.model_validate_json(missing.text).error
    assert (error.type, error.code) == ("invalid_request_error", "model_not_found")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("laneway/nowhere")


def test_error_bodies_have_the_spec_shape(http: httpx.Client) -> None:
    unknown = http.post("/v1/chat/completions", json={"model": "gpt-99", "messages": MESSAGES})
    assert unknown.status_code == 404
    error = ErrorResponse.model_validate_json(unknown.text).error
    # what OpenAI answers for a model that does not exist
    assert (error.type, error.code) == ("invalid_request_error", "model_not_found")

    for status, response in (
        (400, http.post("/v1/chat/completions", json={"model": "auto", "messages": []})),
        (400, http.post("/v1/completions", json={"model": "auto", "prompt": "x", "top_p": 3})),
        (404, http.get("/v1/jobs/no-such-job")),
    ):
        assert response.status_code == status, response.text
        error = ErrorResponse.model_validate_json(response.text).error
        assert error.message and error.type
