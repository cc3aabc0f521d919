"""Usage accounting end to end: real workers and sims, ``GET /v1/usage`` and
``laneway usage``; each tenant sees only its own."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import httpx
import pytest

from tests.system import LANEWAY, System, chat, wait_job

KEYS = "key-usage-a:usage-a,key-usage-b:usage-b"


@pytest.fixture(scope="module")
def keyed_api(system: System) -> str:
    return system.start_api(env={"LANEWAY_API_KEYS": KEYS})


@pytest.fixture(scope="module")
def jobs_of_a(system: System, keyed_api: str) -> list[dict[str, Any]]:
    """Tenant usage-a's finished jobs: several lanes, a priced backend, a stream."""
    bodies = [
        chat("hi", route="fast-path"),
        chat("hello there", route="fast-path"),
        chat("explain what a hash map is", route="general", max_tokens=40),
        chat("summarise the history of tea", route="general", stream=True, max_tokens=30),
        chat("write a python function that merges two sorted lists"),
    ]
    headers = {"Authorization": "Bearer key-usage-a"}
    with httpx.Client(base_url=keyed_api, headers=headers, timeout=30) as client:
        ids = []
        for body in bodies:
            accepted = client.post("/v1/jobs", json=body)
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["id"])
        jobs = [wait_job(client, job_id, timeout=60) for job_id in ids]
    assert [job["status"] for job in jobs] == ["succeeded"] * len(bodies), jobs
    return jobs


def usage(api: str, key: str | None, **params: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{api}/v1/usage", params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_each_job_records_its_usage_and_timings(jobs_of_a: list[dict[str, Any]]) -> None:
    for job in jobs_of_a:
        assert job["usage"]["prompt_tokens"] > 0 and job["usage"]["completion_tokens"] > 0
        assert job["usage_estimated"] is False  # the sims send usage
        assert job["queue_wait_ms"] is not None and job["queue_wait_ms"] >= 0
        # queue wait ends when a lane worker first took the job
        assert job["queue_wait_ms"] / 1000 == pytest.approx(
            job["started_at"] - job["created_at"], abs=0.01
        )
        assert job["backend_ms"] >= job["latency_ms"] - 0.01 > 0
    priced = [job for job in jobs_of_a if job["backend"] == "general-a"]
    assert priced and all(job["cost"] > 0 for job in priced)
    streamed = jobs_of_a[3]
    assert streamed["ttft_ms"] is not None


def test_usage_totals_equal_the_sum_of_the_jobs(
    keyed_api: str, jobs_of_a: list[dict[str, Any]]
) -> None:
    report = usage(keyed_api, "key-usage-a", start=time.time() - 3600, group_by="lane")
    total = report["total"]
    assert report["tenant"] == "usage-a"
    assert total["jobs"] == total["succeeded"] == len(jobs_of_a)
    assert total["prompt_tokens"] == sum(j["usage"]["prompt_tokens"] for j in jobs_of_a)
    assert total["completion_tokens"] == sum(j["usage"]["completion_tokens"] for j in jobs_of_a)
    assert total["cost"] == pytest.approx(sum(j["cost"] or 0 for j in jobs_of_a))
    assert total["backend_ms"] == pytest.approx(sum(j["backend_ms"] for j in jobs_of_a), abs=0.1)
    waits = [j["queue_wait_ms"] for j in jobs_of_a]
    assert total["mean_queue_wait_ms"] == pytest.approx(sum(waits) / len(waits), abs=0.01)
    assert total["mean_ttft_ms"] == pytest.approx(jobs_of_a[3]["ttft_ms"], abs=0.01)
    lanes = {group["key"]: group for group in report["groups"]}
    for lane, group in lanes.items():
        mine = [j for j in jobs_of_a if j["lane"] == lane]
        assert group["jobs"] == len(mine)
        assert group["prompt_tokens"] == sum(j["usage"]["prompt_tokens"] for j in mine)
    assert sum(group["jobs"] for group in lanes.values()) == len(jobs_of_a)
    by_backend = usage(keyed_api, "key-usage-a", start=time.time() - 3600, group_by="backend")
    backends = {group["key"]: group["jobs"] for group in by_backend["groups"]}
    assert backends == {
        name: sum(1 for j in jobs_of_a if j["backend"] == name)
        for name in {j["backend"] for j in jobs_of_a}
    }


def test_a_tenant_sees_only_its_own_usage(
    system: System, keyed_api: str, jobs_of_a: list[dict[str, Any]]
) -> None:
    before_a = usage(keyed_api, "key-usage-a", group_by="tenant")
    headers = {"Authorization": "Bearer key-usage-b"}
    accepted = httpx.post(
        f"{keyed_api}/v1/jobs", json=chat("hi", route="fast-path"), headers=headers
    )
    job_id = accepted.json()["id"]
    done = httpx.get(
        f"{keyed_api}/v1/jobs/{job_id}", params={"wait": 30}, headers=headers, timeout=40
    ).json()
    assert done["status"] == "succeeded"
    mine = usage(keyed_api, "key-usage-b", group_by="tenant")
    assert mine["tenant"] == "usage-b"
    assert [group["key"] for group in mine["groups"]] == ["usage-b"]
    assert mine["total"]["jobs"] == 1
    assert mine["total"]["prompt_tokens"] == done["usage"]["prompt_tokens"]
    # a's view did not move with b's job, and shows no one else
    after_a = usage(keyed_api, "key-usage-a", group_by="tenant")
    assert after_a["total"] == before_a["total"]
    assert [group["key"] for group in after_a["groups"]] == ["usage-a"]
    # without a key: 401, in the API's error format
    refused = httpx.get(f"{keyed_api}/v1/usage")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    # the API without keys (the operator's own) sees every tenant
    everyone = usage(system.api_url, None, group_by="tenant")
    assert everyone["tenant"] is None
    tenants = {group["key"]: group for group in everyone["groups"]}
    assert tenants["usage-a"]["jobs"] == len(jobs_of_a) and tenants["usage-b"]["jobs"] == 1


def test_the_time_range_filters(keyed_api: str, jobs_of_a: list[dict[str, Any]]) -> None:
    finished = min(job["finished_at"] for job in jobs_of_a)
    this_hour = int(finished // 3600 * 3600)
    before = usage(keyed_api, "key-usage-a", start=this_hour - 7200, end=this_hour)
    assert before["total"]["jobs"] == 0 and before["end"] == this_hour
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(this_hour))
    during = usage(keyed_api, "key-usage-a", start=iso)
    assert during["start"] == this_hour
    assert during["total"]["jobs"] == len(jobs_of_a)
    later = usage(keyed_api, "key-usage-a", start=time.time() + 7200, end=time.time() + 9000)
    assert later["total"]["jobs"] == 0


def test_bad_usage_queries_get_clear_errors(keyed_api: str) -> None:
    headers = {"Authorization": "Bearer key-usage-a"}
    for params, param in (
        ({"start": 2000, "end": 1000}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"group_by": "colour"}, "group_by"),
        ({"start": 0}, "start"),  # decades: more hours than one query reads
    ):
        response = httpx.get(f"{keyed_api}/v1/usage", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert error["param"] == param and error["message"], error


def test_usage_is_documented_in_openapi(system: System) -> None:
    spec = httpx.get(f"{system.api_url}/openapi.json").json()
    operation = spec["paths"]["/v1/usage"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"start", "end", "group_by"}
    assert {"200", "401", "422"} <= set(operation["responses"])


def test_laneway_usage_prints_the_totals(system: System, jobs_of_a: list[dict[str, Any]]) -> None:
    shown = subprocess.run(
        [*LANEWAY, "usage", "--since", "2h", "--tenant", "usage-a", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=system.env,
    )
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["total"]["jobs"] == len(jobs_of_a)
    assert body["total"]["prompt_tokens"] == sum(j["usage"]["prompt_tokens"] for j in jobs_of_a)
    table = subprocess.run(
        [*LANEWAY, "usage", "--since", "2h", "--by", "tenant"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**system.env, "COLUMNS": "200"},
    )
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "usage-a" in line)
    assert f" {len(jobs_of_a)} " in row
    bad = subprocess.run(
        [*LANEWAY, "usage", "--by", "colour"], capture_output=True, text=True, env=system.env
    )
    assert bad.returncode == 2 and "--by must be one of" in bad.stderr
