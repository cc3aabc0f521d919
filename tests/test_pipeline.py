"""A job's whole path through real processes: API → classifier → lane queue → backend."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
import redis

from laneway import keys
from laneway.celery_app import RUN_TASK, create_app
from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.settings import load_settings
from laneway.store import JobStore
from laneway.wire import MessageFactory
from tests.system import System, chat, wait_job

LANE_BACKENDS = {
    "fast-path": {"fast-a", "fast-b"},
    "general": {"general-a"},
    "high-compute": {"high-a", "slow-a"},
}


def event_statuses(r: redis.Redis, job_id: str) -> list[str]:
    return [
        json.loads(fields["data"])["status"]
        for _, fields in r.xrange(keys.events(job_id))
        if fields["type"] == "status"
    ]


def test_job_is_classified_routed_and_answered(system: System, r: redis.Redis) -> None:
    with system.client() as client:
        accepted = client.post(
            "/v1/jobs", json=chat("write a python function that merges two sorted lists")
        )
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert body["status"] == "queued" and body["created"] is True
        assert accepted.headers["location"] == f"/v1/jobs/{body['id']}"
        job = wait_job(client, body["id"])

    assert job["status"] == "succeeded", job
    assert job["lane"] == "high-compute"
    assert job["queue"] == queue_for("high-compute")
    assert job["strategy"] == "rules" and job["reason"] and 0 < job["confidence"] <= 1
    assert job["backend"] in LANE_BACKENDS["high-compute"]
    assert job["model"] == {"high-a": "sim-large", "slow-a": "sim-slow"}[job["backend"]]
    answer = job["result"]["choices"][0]["message"]["content"]
    assert isinstance(answer, str) and answer.strip()
    assert job["usage"]["completion_tokens"] > 0
    assert (
        job["usage"]["total_tokens"]
        == job["usage"]["prompt_tokens"] + job["usage"]["completion_tokens"]
    )
    assert job["created_at"] <= job["routed_at"] <= job["started_at"] <= job["finished_at"]
    assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]
    assert job["attempts"][0]["backend"] == job["backend"]
    assert job["deliveries"] == 1
    assert event_statuses(r, job["id"]) == ["queued", "routed", "running", "succeeded"]


def test_short_prompt_goes_to_fast_path(system: System) -> None:
    with system.client() as client:
        job_id = client.post("/v1/jobs", json=chat("hi!")).json()["id"]
        job = wait_job(client, job_id)
    assert job["status"] == "succeeded"
    assert job["lane"] == "fast-path"
    assert job["backend"] in LANE_BACKENDS["fast-path"]


def test_completions_request(system: System) -> None:
    with system.client() as client:
        job_id = client.post(
            "/v1/jobs", json={"prompt": "Once upon a time", "max_tokens": 5}
        ).json()["id"]
        job = wait_job(client, job_id)
    assert job["status"] == "succeeded", job
    assert job["kind"] == "completion"
    assert job["result"]["object"] == "text_completion"
    assert job["usage"]["completion_tokens"] == 5


def test_route_overrides_the_classifier(system: System, r: redis.Redis) -> None:
    with system.client() as client:
        accepted = client.post(
            "/v1/jobs",
            json=chat("write a python function that merges two sorted lists", route="fast-path"),
        ).json()
        assert accepted["status"] == "routed" and accepted["lane"] == "fast-path"
        job = wait_job(client, accepted["id"])
    assert job["status"] == "succeeded"
    assert job["lane"] == "fast-path" and job["strategy"] == "route"
    assert job["backend"] in LANE_BACKENDS["fast-path"]
    assert event_statuses(r, job["id"]) == ["routed", "running", "succeeded"]


def test_invalid_body_is_rejected_and_nothing_is_enqueued(system: System, r: redis.Redis) -> None:
    def enqueued() -> tuple[int, int]:
        return r.zcard(keys.tenant_jobs("default")), sum(
            r.llen(q) for q in (CLASSIFY_QUEUE, *(queue_for(lane) for lane in LANES))
        )

    before = enqueued()
    cases = [
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": []}, "messages"),
        ({"model": "auto"}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "route": "turbo"}, "route"),
        ({"messages": [{"role": "user", "content": "hi"}], "prompt": "hi"}, None),
    ]
    with system.client() as client:
        for body, field in cases:
            response = client.post("/v1/jobs", json=body)
            assert response.status_code == 422, (body, response.text)
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error"
            if field:
                assert error["param"] == field, error
                assert field in error["message"]
        not_json = client.post(
            "/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert not_json.status_code == 422
        assert "error" in not_json.json()
    assert enqueued() == before


def test_unknown_job_is_404(system: System) -> None:
    with system.client() as client:
        response = client.get("/v1/jobs/job_doesnotexist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


def test_duplicate_delivery_does_not_overwrite_a_finished_job(
    system: System, r: redis.Redis
) -> None:
    with system.client() as client:
        job_id = client.post("/v1/jobs", json=chat("hello", route="fast-path")).json()["id"]
        first = wait_job(client, job_id)
    assert first["status"] == "succeeded"

    # Deliver the same run task again, exactly as a redelivery would arrive.
    settings = load_settings(system.config)
    message = MessageFactory(create_app(settings)).build(
        RUN_TASK, (job_id,), queue_for("fast-path")
    )
    stats_before = {
        name: httpx.get(url.rsplit("/v1", 1)[0] + "/admin/stats").json()["completed"]
        for name, url in _backend_urls(settings).items()
    }
    r.lpush(message.list_key, message.payload)
    deadline = time.monotonic() + 10
    while r.llen(queue_for("fast-path")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let the worker finish the (skipped) task
    with system.client() as client:
        again = client.get(f"/v1/jobs/{job_id}").json()
    assert again == first
    stats_after = {
        name: httpx.get(url.rsplit("/v1", 1)[0] + "/admin/stats").json()["completed"]
        for name, url in _backend_urls(settings).items()
    }
    assert stats_after == stats_before, "a finished job must not reach a backend again"

    # And the store refuses to overwrite it directly.
    store = JobStore(r, settings.job_ttl_seconds)
    from laneway.jobs import JobStatus

    assert store.finish(job_id, JobStatus.FAILED, {"error": "late duplicate"}) == "succeeded"
    assert store.get(job_id).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


def _backend_urls(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {b.name: b.base_url for lane in settings.lanes.values() for b in lane.backends}


def test_idempotency_key_returns_the_same_job(system: System) -> None:
    with system.client() as client:
        first = client.post("/v1/jobs", json=chat("hi", idempotency_key="order-42")).json()
        second = client.post("/v1/jobs", json=chat("hi", idempotency_key="order-42")).json()
        by_header = client.post(
            "/v1/jobs", json=chat("hi"), headers={"Idempotency-Key": "order-42"}
        ).json()
    assert first["created"] is True
    assert second["created"] is False and second["id"] == first["id"]
    assert by_header["id"] == first["id"]


def test_health_and_readiness(system: System) -> None:
    with system.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["redis"] == "ok"
        assert all(checks[f"workers:{role}"] >= 1 for role in ("classify", *LANES))
        assert client.get("/openapi.json").json()["paths"]["/v1/jobs"]["post"]
        assert client.get("/docs").status_code == 200


def test_metrics_count_jobs_across_processes(system: System) -> None:
    def scrape() -> dict[str, float]:
        text = httpx.get(f"{system.api_url}/metrics").text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def quiet(values: dict[str, float]) -> bool:
        busy = ("laneway_queue_depth{", "laneway_backend_in_flight{")
        return not any(v for name, v in values.items() if name.startswith(busy))

    # Jobs of earlier tests on this shared system may still be finishing: the deltas
    # below are only this test's once nothing is queued or calling a backend.
    deadline = time.monotonic() + 30
    before = scrape()
    while not quiet(before) or not quiet(scrape()):
        assert time.monotonic() < deadline, "the system never went quiet"
        time.sleep(0.2)
        before = scrape()
    with system.client() as client:
        job_id = client.post("/v1/jobs", json=chat("hi", route="fast-path")).json()["id"]
        job = wait_job(client, job_id)
        priced_id = client.post("/v1/jobs", json=chat("hi", route="general")).json()["id"]
        priced = wait_job(client, priced_id)
    after = scrape()
    labels = f'backend="{job["backend"]}",lane="fast-path",status="succeeded"'
    key = f"laneway_jobs_finished_total{{{labels}}}"
    assert after[key] == before.get(key, 0) + 1
    assert after["laneway_jobs_submitted_total"] == before["laneway_jobs_submitted_total"] + 2
    forced = 'laneway_jobs_routed_total{lane="fast-path",strategy="route"}'
    assert after[forced] == before.get(forced, 0) + 1
    cost = 'laneway_cost_total{backend="general-a",lane="general",model="sim-medium"}'
    assert after[cost] == pytest.approx(before.get(cost, 0) + priced["cost"])
    assert after['laneway_workers{role="fast-path"}'] >= 1
    assert 'laneway_queue_depth{queue="laneway.general"}' in after
    assert after['laneway_backend_breaker_open{backend="fast-a"}'] == 0


def test_cli_submit_prints_job_lane_backend_and_answer(system: System) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "laneway.cli",
            "submit",
            "--api",
            system.api_url,
            "write a python function that merges two sorted lists",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**system.env, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "job_" in out and "high-compute" in out and "succeeded" in out
    assert "high-a" in out or "slow-a" in out
    assert "answer" in out


def test_task_messages_match_what_celery_itself_builds(system: System) -> None:
    app = create_app(load_settings(system.config))
    factory = MessageFactory(app)
    for task, args, argsrepr in (
        (RUN_TASK, ("job_1", "model-x", ["fast-path"], "high"), None),
        ("laneway.classify", ("job_2", {"messages": []}, "normal"), "('job_2', <request>)"),
    ):
        built = json.loads(
            factory.build(task, args, queue_for("general"), argsrepr=argsrepr).payload
        )
        task_id = built["headers"]["id"]
        expected = app.amqp.as_task_v2(
            task_id,
            task,
            args=args,
            kwargs={},
            ignore_result=True,
            origin="laneway",
            argsrepr=argsrepr,
        )
        assert built["headers"] == expected.headers
        assert {k: built["properties"][k] for k in expected.properties} == expected.properties
        body = json.loads(base64.b64decode(built["body"]))
        assert body == json.loads(json.dumps(expected.body))


def test_a_long_poll_returns_the_job_as_it_stands_when_the_wait_runs_out(system: System) -> None:
    body = {**chat("write a python function"), "model": "sim-slow", "max_tokens": 40}
    with system.client() as client:
        job_id = client.post("/v1/jobs", json=body).json()["id"]  # ~1 s at 40 tokens/s
        started = time.monotonic()
        early = client.get(f"/v1/jobs/{job_id}", params={"wait": 0.3})
        waited = time.monotonic() - started
        assert early.status_code == 200
        assert early.json()["status"] in ("queued", "routed", "running")
        assert 0.25 <= waited < 0.9
        assert wait_job(client, job_id)["status"] == "succeeded"


def test_a_job_on_a_priced_backend_records_its_cost(system: System) -> None:
    with system.client() as client:
        priced = wait_job(
            client, client.post("/v1/jobs", json=chat("hi", route="general")).json()["id"]
        )
        unpriced = wait_job(
            client, client.post("/v1/jobs", json=chat("hi", route="fast-path")).json()["id"]
        )
    usage = priced["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    expected = (usage["prompt_tokens"] * 0.5 + usage["completion_tokens"] * 1.5) / 1000
    assert priced["cost"] == pytest.approx(expected)
    assert unpriced["cost"] is None
