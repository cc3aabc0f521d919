"""``/metrics`` against running systems: it parses, every documented metric is there,
counters and histograms move with traffic, and the queue gauges match queued jobs."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from laneway import keys
from tests.side_system import SideSystem, side_system
from tests.sim_helpers import SimBackendProcess, start_sim_backend
from tests.system import System, chat, sim_backend_config, wait_job

HISTOGRAMS = {
    "laneway_job_latency_seconds": {"lane", "backend"},
    "laneway_queue_wait_seconds": {"lane"},
    "laneway_ttft_seconds": {"lane", "backend"},
    "laneway_backend_call_seconds": {"lane", "backend"},
    "laneway_classifier_latency_seconds": {"strategy"},
}
COUNTERS = {
    "laneway_tokens": {"lane", "backend", "model", "kind"},
    "laneway_cost": {"lane", "backend", "model"},
    "laneway_retries": {"lane", "backend"},
    "laneway_fallbacks": {"from_lane", "to_lane"},
    "laneway_deferrals": {"lane"},
    "laneway_classifier_cache_hits": set(),
    "laneway_classifier_decisions": {"strategy", "lane"},
    "laneway_api_requests": {"route", "status"},
    "laneway_jobs_finished": {"status", "lane", "backend"},
    "laneway_dead_letters": set(),
    "laneway_jobs_submitted": set(),
    "laneway_jobs_routed": {"lane", "strategy"},
}
GAUGES = {
    "laneway_queue_depth": {"queue"},
    "laneway_queue_oldest_age_seconds": {"queue"},
    "laneway_backend_in_flight": {"backend"},
    "laneway_backend_max_concurrency": {"backend"},
    "laneway_backend_breaker_open": {"backend"},
    "laneway_dead_letters_stored": set(),
    "laneway_workers": {"role"},
}


class Scrape:
    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in self.families.values():
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def get(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)


def scrape(api: str) -> Scrape:
    response = httpx.get(f"{api}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return Scrape(response.text)


def test_metrics_parse_with_every_documented_name_and_label_set(system: System) -> None:
    with system.client() as client:
        wait_job(client, client.post("/v1/jobs", json=chat("hi")).json()["id"])
    now = scrape(system.api_url)
    for name in HISTOGRAMS:
        assert now.families[name].type == "histogram", name
    for name in COUNTERS:
        assert now.families[name].type == "counter", name
    for name in GAUGES:
        assert now.families[name].type == "gauge", name
    expected = {**HISTOGRAMS, **COUNTERS, **GAUGES}
    for family in now.families.values():
        for sample in family.samples:
            if family.name in expected and not sample.name.endswith("_created"):
                assert set(sample.labels) - {"le"} == expected[family.name], sample
    # label values are lanes, backends, models, routes: never job ids or tenants
    text = httpx.get(f"{system.api_url}/metrics").text
    assert not re.search(r"job_[0-9a-f]{32}", text)
    assert "usage-a" not in text and 'tenant="' not in text


def test_counters_and_histograms_move_with_traffic(system: System) -> None:
    before = scrape(system.api_url)
    with system.client() as client:
        posted = [
            client.post("/v1/jobs", json=chat("hi", route="fast-path")),
            client.post("/v1/jobs", json=chat("tell me about tea", route="general")),
            client.post("/v1/jobs", json=chat("what is 2+2?")),  # classified
            client.post("/v1/jobs", json=chat("a story", route="general", stream=True)),
        ]
        assert [r.status_code for r in posted] == [202] * 4
        jobs = [wait_job(client, r.json()["id"], timeout=60) for r in posted]
        client.get("/v1/jobs/job_" + "0" * 32)  # a 404, on the job route
    assert all(job["status"] == "succeeded" for job in jobs), jobs
    after = scrape(system.api_url)

    def moved(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    for job in jobs:
        lane, backend = job["lane"], job["backend"]
        assert moved("laneway_job_latency_seconds_count", lane=lane, backend=backend) >= 1
        assert moved("laneway_backend_call_seconds_count", lane=lane, backend=backend) >= 1
        assert moved("laneway_queue_wait_seconds_count", lane=lane) >= 1
    assert moved("laneway_ttft_seconds_count", lane="general", backend="general-a") >= 1
    assert moved("laneway_classifier_latency_seconds_count") >= 1
    assert moved("laneway_classifier_decisions_total", lane=jobs[2]["lane"]) >= 1
    # a histogram's +Inf bucket is its count, and the sum grew by the jobs' latencies
    inf = after.total("laneway_job_latency_seconds_bucket", le="+Inf")
    assert inf == after.total("laneway_job_latency_seconds_count")
    assert moved("laneway_job_latency_seconds_sum") > 0
    # tokens and cost: at least these jobs' (other tests may run jobs meanwhile)
    prompt = sum(job["usage"]["prompt_tokens"] for job in jobs)
    assert moved("laneway_tokens_total", kind="prompt") >= prompt
    general = [job for job in jobs if job["backend"] == "general-a"]
    assert moved("laneway_cost_total", backend="general-a") >= sum(j["cost"] for j in general)
    # this process counts its own requests exactly, by route template
    assert moved("laneway_api_requests_total", route="/v1/jobs", status="202") == 4
    assert moved("laneway_api_requests_total", route="/v1/jobs/{job_id}", status="404") == 1
    assert moved("laneway_api_requests_total", route="/v1/jobs/{job_id}", status="200") >= 4
    assert moved("laneway_jobs_finished_total", status="succeeded") >= 4


def test_request_counts_of_other_api_processes_arrive_within_seconds(system: System) -> None:
    other = system.start_api()
    before = scrape(system.api_url).total("laneway_api_requests_total", route="/v1/models")
    for _ in range(3):
        assert httpx.get(f"{other}/v1/models").status_code == 200
    deadline = time.monotonic() + 15
    seen = 0.0
    while time.monotonic() < deadline:
        seen = scrape(system.api_url).total("laneway_api_requests_total", route="/v1/models")
        if seen - before >= 3:
            break
        time.sleep(0.2)
    assert seen - before == 3


# -- a system of its own: no lane workers at first, then a lane whose backend fails


@pytest.fixture(scope="module")
def failing_sim() -> Iterator[SimBackendProcess]:
    sim = start_sim_backend("--profile", "small", "--name", "broken", "--error-rate", "1.0")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def side(
    system: System, tmp_path_factory: pytest.TempPathFactory, failing_sim: SimBackendProcess
) -> Iterator[tuple[SideSystem, Path, str]]:
    with side_system(system, tmp_path_factory.mktemp("metrics"), db=11) as side:
        base: dict[str, Any] = yaml.safe_load(system.config.read_text())
        general = base["lanes"]["general"]["backends"]
        config = side.config(
            "metrics",
            {
                "lanes": {
                    "fast-path": {
                        "backends": [sim_backend_config("broken", failing_sim, "sim-small")]
                    },
                    "general": {"backends": general},
                },
                "retry": {
                    "backoff_base_seconds": 0.05,
                    "backoff_max_seconds": 0.1,
                    "breaker_failure_threshold": 50,  # every call reaches the broken backend
                },
            },
        )
        api = side.start_api(config)
        yield side, config, api


def start_lane_workers(side: SideSystem, config: Path) -> None:
    if not side.children[1:]:  # the API only so far
        side.start_worker("general", config)
        side.start_worker("fast-path", config)
    side.wait_ready("general", "fast-path")


def test_queue_depth_and_oldest_age_match_the_queued_jobs(
    side: tuple[SideSystem, Path, str],
) -> None:
    system, config, api = side
    first = time.time()
    ids = []
    with httpx.Client(base_url=api, timeout=30) as client:
        for lane in ("general", "general", "general", "fast-path"):
            accepted = client.post("/v1/jobs", json=chat("hi", route=lane))
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["id"])
            time.sleep(0.3)  # spaced out, so that the oldest job is told apart
    seen = scrape(api)
    elapsed = time.time() - first
    assert seen.get("laneway_queue_depth", queue="laneway.general") == 3
    assert seen.get("laneway_queue_depth", queue="laneway.fast-path") == 1
    assert seen.get("laneway_queue_depth", queue="laneway.high-compute") == 0
    oldest = seen.get("laneway_queue_oldest_age_seconds", queue="laneway.general")
    assert elapsed - 0.3 * 2 <= oldest <= elapsed + 0.05  # the first job's, not a later one's
    created = float(system.redis.hget(keys.job(ids[0]), "created_at") or 0)
    assert oldest == pytest.approx(time.time() - created, abs=0.5)
    assert seen.get("laneway_queue_oldest_age_seconds", queue="laneway.high-compute") == 0
    assert seen.get("laneway_backend_max_concurrency", backend="general-a") == 16
    assert seen.get("laneway_backend_in_flight", backend="general-a") == 0
    # the lane workers start: the queues drain and the gauges follow
    start_lane_workers(system, config)
    with httpx.Client(base_url=api, timeout=60) as client:
        for job_id in ids:
            assert wait_job(client, job_id, timeout=60)["status"] == "succeeded"
    drained = scrape(api)
    assert drained.get("laneway_queue_depth", queue="laneway.general") == 0
    assert drained.get("laneway_queue_oldest_age_seconds", queue="laneway.general") == 0
    wait = drained.total("laneway_queue_wait_seconds_count", lane="general")
    assert wait == 3


def test_retries_and_fallbacks_are_counted(side: tuple[SideSystem, Path, str]) -> None:
    system, config, api = side
    start_lane_workers(system, config)
    before = scrape(api)
    with httpx.Client(base_url=api, timeout=60) as client:
        accepted = client.post("/v1/jobs", json=chat("hello again", route="fast-path"))
        job = wait_job(client, accepted.json()["id"], timeout=60)
    assert job["status"] == "succeeded" and job["lane"] == "general", job
    failed = [a for a in job["attempts"] if a["backend"] == "broken"]
    after = scrape(api)

    def moved(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    # every failed call but the last in the lane was retried; then the job fell back
    assert (
        failed
        and moved("laneway_retries_total", lane="fast-path", backend="broken") == len(failed) - 1
    )
    assert moved("laneway_fallbacks_total", from_lane="fast-path", to_lane="general") == 1
    calls = moved("laneway_backend_call_seconds_count", lane="fast-path", backend="broken")
    assert calls == len(failed)
