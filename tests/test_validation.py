"""Bad requests get a clear 4xx in OpenAI's error shape and write nothing; valid ones
(as OpenAI's spec defines them) get through; unexpected errors are JSON 500s."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from laneway import keys
from tests.system import System, chat, job_keys, wait_job

OPENAI_ROUTES = ("/v1/chat/completions", "/v1/completions")


def written(r: redis.Redis) -> tuple[int, int, str | None]:
    """What only a submit writes: job records, tenant index entries, the submitted
    counter (queue lengths move with jobs still running from earlier tests)."""
    records = sum(
        1 for key in r.scan_iter(match=f"{keys.PREFIX}job:*", count=1000) if key.count(":") == 2
    )
    submitted = r.hget(keys.STATS, "submitted")
    return records, r.zcard(keys.tenant_jobs("default")), submitted  # type: ignore[return-value]


@pytest.fixture
def http(system: System) -> Iterator[httpx.Client]:
    with system.client() as client:
        yield client


def body_for(path: str, **extra: Any) -> dict[str, Any]:
    if path == "/v1/completions":
        return {"model": "laneway/fast-path", "prompt": "hi", "max_tokens": 2, **extra}
    return chat("hi", **{"model": "laneway/fast-path", "max_tokens": 2, **extra})


def assert_error(
    response: httpx.Response, status: int, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and isinstance(error["message"], str)
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


# --- #9: what OpenAI accepts, laneway accepts; what it refuses, laneway refuses ---


@pytest.mark.parametrize(
    "extra",
    [
        {"stream": None},
        {"n": 17},
        {"n": 128},
        {"prompt": [1, 2, 3], "messages": None},
        {"prompt": [[1, 2], [3]], "messages": None},
        {"stream_options": None, "temperature": 1},
    ],
)
def test_valid_openai_parameters_are_accepted(http: httpx.Client, extra: dict[str, Any]) -> None:
    body = {k: v for k, v in chat("hi", route="fast-path", max_tokens=2, **extra).items()}
    if body.get("messages") is None:
        body.pop("messages")
    response = http.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text


def test_token_id_prompts_reach_the_backend(http: httpx.Client) -> None:
    response = http.post("/v1/completions", json=body_for("/v1/completions", prompt=[1, 2, 3]))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"]


def test_a_backends_param_survives_forwarding(http: httpx.Client) -> None:
    # n=17 is valid for OpenAI; the sim serves at most 16 and says so with param "n".
    response = http.post("/v1/chat/completions", json=body_for("/v1/chat/completions", n=17))
    error = assert_error(response, 400, param="n", code="backend_rejected")
    assert "'n'" in error["message"]
    job = http.get(f"/v1/jobs/{response.headers['x-laneway-job-id']}").json()
    assert job["error_param"] == "n"


@pytest.mark.parametrize("path", OPENAI_ROUTES)
@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"stream": "yes"}, "stream"),
        ({"stream": 1}, "stream"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"temperature": "0.5"}, "temperature"),
        ({"n": 129}, "n"),
        ({"n": True}, "n"),
    ],
)
def test_wrongly_typed_parameters_are_refused(
    http: httpx.Client, r: redis.Redis, path: str, extra: dict[str, Any], param: str
) -> None:
    before = written(r)
    assert_error(http.post(path, json=body_for(path, **extra)), 400, param, "invalid_value")
    assert_error(http.post("/v1/jobs", json=body_for(path, **extra)), 422, param)
    assert written(r) == before


@pytest.mark.parametrize("path", OPENAI_ROUTES)
def test_openai_routes_require_a_model(http: httpx.Client, r: redis.Redis, path: str) -> None:
    body = body_for(path)
    del body["model"]
    before = written(r)
    error = assert_error(http.post(path, json=body), 400, "model", "invalid_value")
    assert "model: is required" in error["message"]
    assert written(r) == before
    # The native API keeps its default, `auto`.
    assert http.post("/v1/jobs", json=body).status_code == 202


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", "'user'"),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": 5}]},
            "messages[1].content",
            "must be a string or an array of content parts",
        ),
        ({"messages": [{"role": "user", "content": []}]}, "messages[0].content", "must be"),
        ({"messages": ["hi"]}, "messages[0]", "must be an object"),
        ({"messages": [{"content": "x"}]}, "messages[0].role", "is required"),
        ({"prompt": []}, "prompt", "non-empty array"),
        ({"prompt": [[]]}, "prompt", "non-empty array"),
        ({"prompt": [1, "a"]}, "prompt", "must be a string"),
    ],
)
def test_error_params_and_messages_read_as_openai_writes_them(
    http: httpx.Client, r: redis.Redis, body: dict[str, Any], param: str, says: str
) -> None:
    path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
    before = written(r)
    error = assert_error(http.post(path, json={"model": "auto", **body}), 400, param)
    assert says in error["message"]
    assert error["message"].startswith(f"{param}: ")
    for leak in ("list[", "dict[", "str]", "function-", "instance of"):
        assert leak not in error["message"]
    assert_error(http.post("/v1/jobs", json=body), 422, param)
    assert written(r) == before


def test_unknown_model_and_job_are_invalid_request_errors(http: httpx.Client) -> None:
    model = http.post("/v1/chat/completions", json=chat("hi", model="gpt-99"))
    error = assert_error(model, 404, "model", "model_not_found")
    assert error["type"] == "invalid_request_error"
    job = http.get(f"/v1/jobs/job_{uuid.uuid4().hex}")
    assert assert_error(job, 404)["type"] == "invalid_request_error"


@pytest.fixture(scope="module")
def keyed_api(system: System) -> str:
    return system.start_api(env={"LANEWAY_API_KEYS": "key-validation:validation"})


def test_a_missing_key_is_an_invalid_request_error(keyed_api: str) -> None:
    response = httpx.post(f"{keyed_api}/v1/chat/completions", json=body_for(OPENAI_ROUTES[0]))
    error = assert_error(response, 401, code="invalid_api_key")
    assert error["type"] == "invalid_request_error"


def _compact(response: httpx.Response) -> str:
    return json.dumps(response.json(), separators=(",", ":"), ensure_ascii=False)


def test_a_too_large_body_is_refused_like_every_other_error(
    http: httpx.Client, system: System, r: redis.Redis
) -> None:
    from laneway.settings import load_settings

    limit = load_settings(system.config).api.max_body_bytes
    big = json.dumps(chat("x" * (limit + 10))).encode()
    before = written(r)
    declared = http.post("/v1/jobs", content=big, headers={"content-type": "application/json"})
    chunked = http.post(
        "/v1/chat/completions",
        content=iter([big[:1000], big[1000:]]),  # no Content-Length: chunked
        headers={"content-type": "application/json"},
    )
    other = http.post("/v1/jobs", json={"messages": []})
    for response in (declared, chunked):
        error = assert_error(response, 413, code="body_too_large")
        assert error["type"] == "invalid_request_error" and error["param"] is None
        assert response.text == _compact(response)
        assert response.headers["content-type"] == other.headers["content-type"]
    assert other.text == _compact(other)
    assert written(r) == before


def test_every_counter_has_a_sample_from_the_start(http: httpx.Client, r: redis.Redis) -> None:
    text = http.get("/metrics").text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    for name in ("laneway_jobs_rejected_total", "laneway_jobs_submitted_total"):
        assert name in samples, text
    assert samples["laneway_jobs_rejected_total"] == float(r.hget(keys.STATS, "rejected") or 0)


# --- #10: input strict JSON cannot carry is refused at the door ---

NOT_STRICT_JSON = [
    ('"presence_penalty": NaN', "presence_penalty"),
    ('"temperature": Infinity', "temperature"),
    ('"top_p": -Infinity', "top_p"),
    ('"logit_bias": {"50256": 1e999}', "logit_bias.50256"),
    ('"metadata": {"a": [1, NaN]}', "metadata.a[1]"),
    ('"user": "\\ud800"', "user"),
    ('"messages": [{"role": "user", "content": "x\\udfff"}]', "messages[0].content"),
    ('"stop": ["ok", "\\ud83d"]', "stop[1]"),
]


@pytest.mark.parametrize(("fragment", "param"), NOT_STRICT_JSON)
def test_nan_infinity_and_lone_surrogates_are_refused(
    http: httpx.Client, r: redis.Redis, fragment: str, param: str
) -> None:
    before = written(r)
    for path, status in (("/v1/chat/completions", 400), ("/v1/jobs", 422)):
        base = '"model": "auto", "messages": [{"role": "user", "content": "x"}]'
        if fragment.startswith('"messages"'):
            base = '"model": "auto"'
        raw = "{" + base + ", " + fragment + "}"
        response = http.post(path, content=raw, headers={"content-type": "application/json"})
        error = assert_error(response, status, param, "invalid_json")
        assert error["message"].startswith(f"{param}: ")
    assert written(r) == before


def test_a_surrogate_pair_is_text_not_an_error(http: httpx.Client) -> None:
    raw = (
        '{"messages": [{"role": "user", "content": "smile \\ud83d\\ude00"}], "route": "fast-path"}'
    )
    response = http.post("/v1/jobs", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text
    job = wait_job(http, response.json()["id"])
    assert job["request"]["messages"][0]["content"] == "smile \U0001f600"


def nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"next": value}
    return value


def test_deeply_nested_bodies_are_refused(http: httpx.Client, r: redis.Redis) -> None:
    before = written(r)
    deep = chat("hi", route="fast-path", metadata=nested(256))
    assert_error(http.post("/v1/jobs", json=deep), 422, "metadata", "nesting_too_deep")
    deep["model"] = "auto"
    error = assert_error(http.post("/v1/chat/completions", json=deep), 400, "metadata")
    assert "nested deeper than 64 levels" in error["message"]
    very_deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = http.post(
        "/v1/jobs", content=very_deep, headers={"content-type": "application/json"}
    )
    assert_error(response, 422, code="nesting_too_deep")
    assert written(r) == before
    # Well within the limit: accepted, and readable afterwards.
    fine = http.post("/v1/jobs", json=chat("hi", route="fast-path", metadata=nested(40)))
    assert fine.status_code == 202, fine.text
    assert http.get(f"/v1/jobs/{fine.json()['id']}").status_code == 200


def test_a_malformed_body_names_no_character_offset(http: httpx.Client) -> None:
    for path, status in (("/v1/jobs", 422), ("/v1/chat/completions", 400)):
        response = http.post(
            path, content=b'{"messages": [', headers={"content-type": "application/json"}
        )
        error = assert_error(response, status, code="invalid_json")
        assert error["param"] is None
        assert "not valid JSON" in error["message"]


def test_a_body_that_is_not_json_says_so(http: httpx.Client) -> None:
    for path, status in (("/v1/jobs", 422), ("/v1/chat/completions", 400)):
        response = http.post(path, content=b'{"x": 1}', headers={"content-type": "text/plain"})
        error = assert_error(response, status)
        assert "Content-Type: application/json" in error["message"]


def test_an_unexpected_error_is_a_json_500_logged_once(
    http: httpx.Client, system: System, r: redis.Redis
) -> None:
    # A job record that cannot be read (as if written by a buggy or newer version).
    job_id = f"job_{uuid.uuid4().hex}"
    r.hset(keys.job(job_id), mapping={"id": job_id, "tenant": "default", "status": "exploded"})
    r.expire(keys.job(job_id), 60)
    for method, path in (
        ("GET", f"/v1/jobs/{job_id}"),
        ("DELETE", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/events"),
    ):
        response = http.request(method, path)
        error = assert_error(response, 500, code="internal_error")
        assert error["type"] == "api_error"
        assert job_id in error["message"]
    port = system.api_url.rsplit(":", 1)[1]
    log = (system.supervisor.log_dir / f"api-{port}.log").read_text()
    lines = [line for line in log.splitlines() if job_id in line]
    logged = [line for line in lines if "unexpected error serving" in line]
    assert len(logged) == 3, lines  # once per request
    assert "Exception in ASGI application" not in log


def test_an_error_inside_a_started_stream_ends_it_and_is_logged_once(
    http: httpx.Client, system: System, r: redis.Redis
) -> None:
    real = http.post("/v1/jobs", json=chat("hi", route="fast-path")).json()["id"]
    wait_job(http, real)
    # A readable job whose event stream holds an event that is not.
    job_id = f"job_{uuid.uuid4().hex}"
    r.hset(keys.job(job_id), mapping={**r.hgetall(keys.job(real)), "id": job_id})
    r.xadd(keys.events(job_id), {"type": "status", "data": "{not json"})
    for key in (keys.job(job_id), keys.events(job_id)):
        r.expire(key, 60)
    response = http.get(f"/v1/jobs/{job_id}/events")
    assert response.status_code == 200  # the stream had started: it can only end
    port = system.api_url.rsplit(":", 1)[1]
    log = (system.supervisor.log_dir / f"api-{port}.log").read_text()
    logged = [line for line in log.splitlines() if "unexpected error serving" in line]
    assert sum(job_id in line for line in logged) == 1, logged
    assert "Exception in ASGI application" not in log


@pytest.mark.parametrize("suffix", [":events", ":final", "x", "%3Aevents", "-0"])
def test_ids_no_job_can_have_are_404_without_touching_redis(
    http: httpx.Client, r: redis.Redis, suffix: str
) -> None:
    job_id = http.post("/v1/jobs", json=chat("hi", route="fast-path")).json()["id"]
    wait_job(http, job_id)
    before = job_keys(r)
    for method in ("GET", "DELETE"):
        assert_error(http.request(method, f"/v1/jobs/{job_id}{suffix}"), 404, code="job_not_found")
    assert_error(http.get(f"/v1/jobs/{job_id}{suffix}/events"), 404)
    assert job_keys(r) == before
    assert http.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded"


@pytest.mark.parametrize(
    "last_event_id",
    ["99999999999999999999-0", "0-18446744073709551616", "abc", "1-2-3", "-1-0", "1.5-0"],
)
def test_an_invalid_last_event_id_is_400_before_the_stream(
    http: httpx.Client, last_event_id: str
) -> None:
    job_id = http.post("/v1/jobs", json=chat("hi", route="fast-path")).json()["id"]
    wait_job(http, job_id)
    response = http.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": last_event_id})
    assert_error(response, 400, "Last-Event-ID", "invalid_value")


def test_a_valid_last_event_id_resumes(http: httpx.Client) -> None:
    job_id = http.post("/v1/jobs", json=chat("hi", route="fast-path")).json()["id"]
    wait_job(http, job_id)
    ids = [
        line.split(":", 1)[1].strip()
        for line in http.get(f"/v1/jobs/{job_id}/events").text.splitlines()
        if line.startswith("id:")
    ]
    resumed = http.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": ids[0]})
    assert resumed.status_code == 200
    assert ids[1:] == [
        line.split(":", 1)[1].strip()
        for line in resumed.text.splitlines()
        if line.startswith("id:")
    ]


@pytest.mark.parametrize("path", ["/v1/jobs", *OPENAI_ROUTES])
def test_an_idempotency_key_reused_for_another_request_is_409(
    http: httpx.Client, r: redis.Redis, path: str
) -> None:
    key = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
    first = http.post(path, json=body_for(path), headers=key)
    assert first.status_code in (200, 202), first.text
    job_id = first.headers.get("x-laneway-job-id") or first.json()["id"]
    wait_job(http, job_id)
    again = http.post(path, json=body_for(path), headers=key)
    assert (again.headers.get("x-laneway-job-id") or again.json()["id"]) == job_id
    before = written(r)
    other = http.post(path, json=body_for(path, max_tokens=3), headers=key)
    error = assert_error(other, 409, "Idempotency-Key", "idempotency_key_reused")
    assert job_id in error["message"]
    assert written(r) == before


def test_idempotency_keys_have_one_bound_everywhere(http: httpx.Client, r: redis.Redis) -> None:
    before = written(r)
    for path in OPENAI_ROUTES:
        response = http.post(path, json=body_for(path), headers={"Idempotency-Key": "k" * 5000})
        error = assert_error(response, 400, "Idempotency-Key", "invalid_value")
        assert "200 characters" in error["message"]
    too_long = http.post("/v1/jobs", json=chat("hi"), headers={"Idempotency-Key": "k" * 201})
    assert_error(too_long, 422, "Idempotency-Key")
    assert written(r) == before
    for path in OPENAI_ROUTES:
        at_limit = {"Idempotency-Key": uuid.uuid4().hex + "k" * 168}
        assert http.post(path, json=body_for(path), headers=at_limit).status_code == 200


def test_the_openapi_document_says_what_the_routes_answer(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path in OPENAI_ROUTES:
        responses = paths[path]["post"]["responses"]
        assert "422" not in responses
        for status in ("400", "401", "404", "409", "413", "429", "500", "503", "504"):
            assert responses[status]["content"]["application/json"]["schema"] == error_ref
        assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    events = paths["/v1/jobs/{job_id}/events"]["get"]["responses"]
    assert set(events["200"]["content"]) == {"text/event-stream"}
    assert events["400"]["content"]["application/json"]["schema"] == error_ref
    submit = paths["/v1/jobs"]["post"]["responses"]
    assert submit["422"]["content"]["application/json"]["schema"] == error_ref
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/completions"])
def test_an_empty_prompt_list_never_reaches_a_backend(
    http: httpx.Client, r: redis.Redis, path: str
) -> None:
    before = written(r)
    response = http.post(path, json={"model": "auto", "prompt": []})
    assert_error(response, 422 if path == "/v1/jobs" else 400, "prompt")
    assert written(r) == before
