"""The simulated OpenAI-compatible backend, exercised as a real subprocess over HTTP."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.sim_helpers import REPO_ROOT, SimBackendProcess, start_sim_backend

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


def _backend(*args: str) -> Callable[[], Iterator[SimBackendProcess]]:
    def fixture() -> Iterator[SimBackendProcess]:
        backend = start_sim_backend(*args)
        try:
            yield backend
        finally:
            backend.stop()

    return fixture


zero = pytest.fixture(scope="module")(
    _backend("--profile", "zero", "--name", "zero-test", "--model", "alias-model")
)
# medium's 60 ms time to first token, slowed to 20 tokens/s so streams last long enough
# to disconnect from mid-way; two slots so queueing is observable.
slow = pytest.fixture(scope="module")(
    _backend(
        *("--profile", "medium", "--name", "slow-test"),
        *("--tokens-per-second", "20", "--max-concurrency", "2"),
    )
)
# Starts rate limiting everything (a CLI fault option); tests then change faults at run time.
faulty = pytest.fixture(scope="module")(
    _backend("--profile", "zero", "--name", "faulty-test", "--rate-limit-rate", "1.0")
)


@pytest.fixture(scope="module")
def client(zero: SimBackendProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=zero.root, timeout=10.0) as c:
        yield c


def chat_body(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "sim-zero", "messages": [{"role": "user", "content": content}], **extra}


def sse_events(response: httpx.Response) -> list[str]:
    return [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]


# -- plain endpoints -------------------------------------------------------------------


def test_health_models_and_backend_header(client: httpx.Client) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert health.headers["x-sim-backend"] == "zero-test"

    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert {m["id"] for m in models["data"]} == {"sim-zero", "alias-model"}
    assert client.get("/v1/models/alias-model").json()["id"] == "alias-model"

    missing = client.get("/no/such/path")
    assert missing.status_code == 404
    assert missing.headers["x-sim-backend"] == "zero-test"
    assert missing.json()["error"]["code"] == "not_found"


# -- non-streaming ---------------------------------------------------------------------


def test_chat_shape_usage_and_determinism(client: httpx.Client) -> None:
    first = client.post(CHAT, json=chat_body("What is a lane?"))
    assert first.status_code == 200
    assert first.headers["x-sim-backend"] == "zero-test"
    body = first.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "sim-zero"
    assert body["system_fingerprint"] == "zero-test"
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    text = choice["message"]["content"]
    usage = body["usage"]
    assert usage["completion_tokens"] == 16 == len(text.split())  # zero profile default
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    again = client.post(CHAT, json=chat_body("What is a lane?")).json()
    assert again["choices"][0]["message"]["content"] == text
    assert again["id"] != body["id"]
    other = client.post(CHAT, json=chat_body("What is a queue?")).json()
    assert other["choices"][0]["message"]["content"] != text


def test_alias_model_is_accepted(client: httpx.Client) -> None:
    response = client.post(CHAT, json={**chat_body("hi"), "model": "alias-model"})
    assert response.status_code == 200
    assert response.json()["model"] == "alias-model"


def test_completions_shape_and_determinism(client: httpx.Client) -> None:
    request = {"model": "sim-zero", "prompt": "Once upon a time"}
    body = client.post(COMPLETIONS, json=request).json()
    assert body["object"] == "text_completion"
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert len(choice["text"].split()) == body["usage"]["completion_tokens"] == 16
    assert body["usage"]["prompt_tokens"] == (len("Once upon a time") + 3) // 4
    assert client.post(COMPLETIONS, json=request).json()["choices"][0]["text"] == choice["text"]
    different = client.post(COMPLETIONS, json={**request, "prompt": "In a galaxy"}).json()
    assert different["choices"][0]["text"] != choice["text"]


def test_n_choices_and_tool_calls(client: httpx.Client) -> None:
    plain = client.post(CHAT, json=chat_body("pick")).json()["choices"][0]["message"]["content"]
    body = client.post(CHAT, json=chat_body("pick", n=3)).json()
    texts = [c["message"]["content"] for c in body["choices"]]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert texts[0] == plain and len(set(texts)) == 3
    assert body["usage"]["completion_tokens"] == 3 * 16

    tools = [{"type": "function", "function": {"name": n}} for n in ("alpha", "beta")]
    named = {"type": "function", "function": {"name": "beta"}}
    for extra, called in (
        ({}, ["alpha", "beta"]),
        ({"parallel_tool_calls": False}, ["alpha"]),
        ({"tool_choice": named}, ["beta"]),
        ({"tool_choice": "none"}, []),
    ):
        [choice] = client.post(CHAT, json=chat_body("pick", tools=tools, **extra)).json()["choices"]
        calls = choice["message"].get("tool_calls", [])
        assert [c["function"]["name"] for c in calls] == called
        assert choice["finish_reason"] == ("tool_calls" if called else "stop")
        assert all(json.loads(c["function"]["arguments"])["text"] for c in calls)
    bad = client.post(CHAT, json=chat_body("pick", tools=tools, tool_choice={"function": {}}))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tool_choice"
    assert client.post(CHAT, json=chat_body("pick", n=17)).json()["error"]["param"] == "n"


def test_max_tokens_cuts_the_answer_with_finish_reason_length(client: httpx.Client) -> None:
    full = client.post(CHAT, json=chat_body("count")).json()["choices"][0]["message"]["content"]
    for field in ("max_tokens", "max_completion_tokens"):
        body = client.post(CHAT, json=chat_body("count", **{field: 5})).json()
        [choice] = body["choices"]
        assert choice["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] == 5
        assert full.startswith(choice["message"]["content"])  # a prefix of the natural answer
    roomy = client.post(CHAT, json=chat_body("count", max_tokens=1000)).json()
    assert roomy["choices"][0]["finish_reason"] == "stop"
    assert roomy["choices"][0]["message"]["content"] == full


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        (b"{not json", None),
        (json.dumps({"model": "sim-zero"}).encode(), "messages"),
        (json.dumps({"model": "sim-zero", "messages": "hi"}).encode(), "messages"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), "model"),
        (json.dumps(chat_body("x", max_tokens="many")).encode(), "max_tokens"),
        (json.dumps(chat_body("x", stream="yes")).encode(), "stream"),
    ],
)
def test_invalid_bodies_get_openai_errors(
    client: httpx.Client, payload: bytes, param: str | None
) -> None:
    response = client.post(CHAT, content=payload, headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_completions_without_prompt_names_the_field(client: httpx.Client) -> None:
    response = client.post(COMPLETIONS, json={"model": "sim-zero"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt"


# -- streaming -------------------------------------------------------------------------


def test_streaming_chat_chunks_done_and_usage(client: httpx.Client) -> None:
    request = chat_body("stream me", max_tokens=6, stream=True)
    request["stream_options"] = {"include_usage": True}
    with client.stream("POST", CHAT, json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)

    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) >= 6
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    *content_chunks, usage_chunk = chunks
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in content_chunks)
    assert content_chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 6 == len(text.split())
    assert all(c["usage"] is None for c in content_chunks)

    plain = client.post(CHAT, json=chat_body("stream me", max_tokens=6)).json()
    assert plain["choices"][0]["message"]["content"] == text


def test_streaming_without_include_usage_has_no_usage_chunk(client: httpx.Client) -> None:
    request = {"model": "sim-zero", "prompt": "abc", "stream": True}
    with client.stream("POST", COMPLETIONS, json=request) as response:
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" not in c and len(c["choices"]) == 1 for c in chunks)
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


# -- the official client ---------------------------------------------------------------


def test_openai_client_chat_stream_and_completions(zero: SimBackendProcess) -> None:
    oai = openai.OpenAI(base_url=zero.base_url, api_key="x", max_retries=0)
    messages: Any = [{"role": "user", "content": "hello"}]

    chat = oai.chat.completions.create(model="sim-zero", messages=messages, max_tokens=4)
    assert chat.choices[0].finish_reason == "length"
    assert chat.usage is not None and chat.usage.completion_tokens == 4
    text = chat.choices[0].message.content
    assert text

    stream = oai.chat.completions.create(
        model="sim-zero",
        messages=messages,
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(pieces) == text
    assert usage is not None and usage.total_tokens == chat.usage.total_tokens

    completion = oai.completions.create(model="alias-model", prompt="abc", max_tokens=3)
    assert completion.choices[0].finish_reason == "length"
    assert len(completion.choices[0].text.split()) == 3

    assert [m.id for m in oai.models.list()] == ["sim-zero", "alias-model"]


def test_unknown_model_is_not_found(zero: SimBackendProcess) -> None:
    oai = openai.OpenAI(base_url=zero.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


def test_context_too_long_is_a_bad_request(zero: SimBackendProcess) -> None:
    oai = openai.OpenAI(base_url=zero.base_url, api_key="x", max_retries=0)
    huge = "word " * 60_000  # ~75k estimated tokens > the 65536-token window
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="sim-zero", messages=[{"role": "user", "content": huge}])
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.param == "messages"

    # Fits on its own, but not together with the requested completion length.
    fits = "word " * 50_000  # 62500 tokens
    with pytest.raises(openai.BadRequestError) as caught:
        oai.completions.create(model="sim-zero", prompt=fits, max_tokens=5000)
    assert caught.value.code == "context_length_exceeded"
    ok = oai.completions.create(model="sim-zero", prompt=fits, max_tokens=10)
    assert ok.choices[0].finish_reason == "length"


# -- fault injection -------------------------------------------------------------------


def test_faults_from_cli_and_at_run_time(faulty: SimBackendProcess) -> None:
    with httpx.Client(base_url=faulty.root, timeout=10.0) as c:

        def set_faults(**faults: Any) -> dict[str, Any]:
            response = c.post("/admin/faults", json=faults)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        def chat() -> httpx.Response:
            return c.post(CHAT, json=chat_body("fault?"))

        limited = chat()  # --rate-limit-rate 1.0 from the command line
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert c.get("/admin/faults").json()["rate_limit_rate"] == 1.0

        set_faults(rate_limit_rate=0.0, error_rate=1.0)
        failed = chat()
        assert failed.status_code == 500
        assert failed.json()["error"]["type"] == "server_error"
        assert failed.headers["x-sim-backend"] == "faulty-test"

        set_faults(error_rate=0.0, down=True)
        assert chat().status_code == 503
        assert c.get("/health").status_code == 503
        assert c.get("/admin/stats").status_code == 200  # admin stays reachable

        healthy = set_faults(down=False)
        assert healthy["error_rate"] == healthy["rate_limit_rate"] == 0.0
        assert healthy["down"] is False
        assert chat().status_code == 200
        assert c.get("/health").status_code == 200

        # The same seed gives the same sequence of faults.
        set_faults(error_rate=0.5, seed=7)
        first = [chat().status_code for _ in range(20)]
        set_faults(error_rate=0.5, seed=7)
        second = [chat().status_code for _ in range(20)]
        assert first == second
        assert set(first) == {200, 500}

        bad = c.post("/admin/faults", json={"error_rate": 2})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "error_rate"
        set_faults(error_rate=0.0)

        stats = c.get("/admin/stats").json()
        assert stats["errors"] >= 3
        assert stats["received"] == stats["completed"] + stats["errors"] + stats["cancelled"]


def test_hang_delays_and_abandoned_hang_is_cancelled(faulty: SimBackendProcess) -> None:
    with httpx.Client(base_url=faulty.root, timeout=10.0) as c:
        c.post("/admin/faults", json={"hang_rate": 1.0, "hang_seconds": 0.3})
        try:
            started = time.perf_counter()
            assert c.post(CHAT, json=chat_body("hang")).status_code == 200
            assert time.perf_counter() - started >= 0.25

            c.post("/admin/faults", json={"hang_seconds": 60})
            before = c.get("/admin/stats").json()["cancelled"]
            with pytest.raises(httpx.ReadTimeout):
                c.post(CHAT, json=chat_body("hang"), timeout=0.3)
            stats = wait_for_stats(c, lambda s: s["cancelled"] > before)
            assert stats["in_flight"] == 0
        finally:
            c.post("/admin/faults", json={"hang_rate": 0.0, "hang_seconds": 3600})


# -- timing, cancellation, back-pressure -----------------------------------------------


def wait_for_stats(
    client: httpx.Client, condition: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = client.get("/admin/stats").json()
        if condition(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def test_disconnected_stream_is_counted_as_cancelled(slow: SimBackendProcess) -> None:
    with httpx.Client(base_url=slow.root, timeout=10.0) as c:
        c.post("/admin/reset")
        request = {**chat_body("a long story", max_tokens=40, stream=True), "model": "sim-medium"}
        received = 0
        started = time.perf_counter()
        with c.stream("POST", CHAT, json=request) as response:
            for line in response.iter_lines():
                received += line.startswith("data: ")
                if received == 3:
                    break  # leaving the block closes the connection mid-stream
        assert time.perf_counter() - started < 1.5  # 40 tokens at 20/s would take 2 s

        stats = wait_for_stats(c, lambda s: s["cancelled"] == 1)
        assert stats["cancelled"] == 1
        assert stats["completed"] == 0
        assert stats["in_flight"] == 0
        [record] = stats["recent"]
        assert record["outcome"] == "cancelled"
        assert record["stream"] is True
        assert record["ended"] is not None

        reset = c.post("/admin/reset").json()
        assert reset["received"] == reset["cancelled"] == 0
        assert reset["recent"] == []


def time_to_first_token(base: str, model: str) -> float:
    request = {**chat_body("ttft", max_tokens=2, stream=True), "model": model}
    with httpx.Client(base_url=base, timeout=10.0) as c:
        started = time.perf_counter()
        with c.stream("POST", CHAT, json=request) as response:
            for line in response.iter_lines():
                if '"content":" ' in line:
                    return time.perf_counter() - started
    raise AssertionError("no content chunk arrived")


def test_medium_first_token_is_later_than_zero(
    zero: SimBackendProcess, slow: SimBackendProcess
) -> None:
    zero_ttft = statistics.median(time_to_first_token(zero.root, "sim-zero") for _ in range(3))
    medium_ttft = statistics.median(time_to_first_token(slow.root, "sim-medium") for _ in range(3))
    assert medium_ttft >= 0.055  # the profile sleeps 60 ms before the first token
    assert medium_ttft > zero_ttft


def test_max_concurrency_queues_extra_requests(slow: SimBackendProcess) -> None:
    # Each request holds a slot ~210 ms (60 ms + 3 tokens at 20/s); with 2 slots,
    # 4 concurrent requests need at least two rounds.
    request = {**chat_body("queue", max_tokens=4), "model": "sim-medium"}
    statuses: list[int] = []

    def call() -> None:
        statuses.append(httpx.post(slow.base_url + "/chat/completions", json=request).status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 4
    assert elapsed >= 0.4


# -- process behaviour -----------------------------------------------------------------


def test_refuses_non_loopback_bind_without_insecure() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "laneway.sim", "--host", "0.0.0.0", "--port", "0"],
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "200"},  # keep the error on one line
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "--insecure" in result.stderr
    assert "listening" not in result.stdout


def test_sigterm_exits_cleanly() -> None:
    backend = start_sim_backend("--profile", "zero")
    backend.process.send_signal(signal.SIGTERM)
    assert backend.process.wait(10) == 0
    assert backend.stop() == 0
