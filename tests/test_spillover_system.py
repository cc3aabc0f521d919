"""Lane spillover end to end: real Redis, classifier and lane workers, sim backends, API.

Every backend takes one call at once (``max_concurrency: 1``), so a lane's second job
waits in its queue while the first runs; a sim made slow (its calls hang a few
seconds) keeps its lane busy. Jobs are placed by the rules classifier: "hi! ..." goes
to fast-path (confidence 0.9), "write a python function ..." to high-compute (0.85),
"prove ... step by step" to high-compute (0.65). fast-path spills into general with
the default age limit (5 s); high-compute spills into general on low confidence only
(at most 0.7, after 1 s). The last test restarts the lane workers without spillover.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from laneway import keys
from laneway.redis_server import EmbeddedRedis
from laneway.settings import SpilloverConfig, load_settings
from laneway.supervisor import Child, Supervisor
from tests.sim_helpers import SimBackendProcess, start_sim_backend
from tests.system import LANEWAY, System, chat, sim_backend_config, wait_job, write_config

AFTER = SpilloverConfig(to=["general"]).after_seconds
assert AFTER is not None
LANE_SIMS = {"fast-path": "fast-1", "general": "general-1", "high-compute": "large-1"}
LOW_CONFIDENCE = {
    "to": ["general"],
    "after_seconds": None,
    "max_confidence": 0.7,
    "low_confidence_after_seconds": 1,
}


class Spill:
    def __init__(self, system: System, sims: dict[str, SimBackendProcess], off: Path) -> None:
        self.system = system
        self.sims = sims
        self.off_config = off
        self.r = system.redis

    def slow(self, backend: str, seconds: float) -> None:
        """Every call to ``backend``'s sim hangs ``seconds`` first (0: none)."""
        faults = {"hang_rate": 1.0 if seconds else 0.0, "hang_seconds": seconds}
        httpx.post(f"{self.sims[backend].root}/admin/faults", json=faults).raise_for_status()

    def submit(self, text: str, **extra: Any) -> str:
        with self.system.client() as http:
            response = http.post("/v1/jobs", json=chat(text, **extra))
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def job(self, job_id: str, wait: float = 0) -> dict[str, Any]:
        with self.system.client() as http:
            return wait_job(http, job_id, wait) if wait else http.get(f"/v1/jobs/{job_id}").json()

    def until_running(self, job_id: str) -> None:
        deadline = time.monotonic() + 30
        while self.job(job_id)["status"] != "running":
            assert time.monotonic() < deadline, json.dumps(self.job(job_id))[:2000]
            time.sleep(0.05)

    def stat(self, field: str) -> int:
        return int(self.r.hget(keys.STATS, field) or 0)

    def stats(self) -> dict[str, int]:
        return {k: int(float(v)) for k, v in self.r.hgetall(keys.STATS).items()}

    def last_call(self, backend: str) -> int:
        return max((c["id"] for c in self._calls(backend)), default=-1)

    def calls_since(self, backend: str, seen: int) -> int:
        return sum(1 for c in self._calls(backend) if c["id"] > seen)

    def _calls(self, backend: str) -> list[dict[str, Any]]:
        stats = httpx.get(f"{self.sims[backend].root}/admin/stats").json()
        calls: list[dict[str, Any]] = stats["recent"]
        return calls


def waited_in_queue(job: dict[str, Any]) -> float:
    """Seconds from the job's routing to a worker taking it."""
    return float(job["started_at"]) - float(job["routed_at"])


@pytest.fixture(scope="module")
def spill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spill]:
    base = tmp_path_factory.mktemp("spill")
    server = EmbeddedRedis(base / "redis").start()
    profiles = {"fast-1": "small", "general-1": "medium", "large-1": "large"}
    sims = {
        name: start_sim_backend("--profile", profile, "--name", name, "--ttft-ms", "1")
        for name, profile in profiles.items()
    }
    backends = {
        lane: [sim_backend_config(name, sims[name], f"sim-{profiles[name]}", max_concurrency=1)]
        for lane, name in LANE_SIMS.items()
    }
    off = write_config(base / "off.yaml", server.url, backends)
    config = write_config(base / "laneway.yaml", server.url, backends)
    for path in (off, config):
        raw = yaml.safe_load(path.read_text())
        raw["worker"]["read_timeout_seconds"] = 15  # the slowest call here takes 10 s
        if path == config:
            raw["lanes"]["fast-path"]["spillover"] = {"to": ["general"]}  # default limit
            raw["lanes"]["high-compute"]["spillover"] = LOW_CONFIDENCE
        path.write_text(yaml.safe_dump(raw))
    settings = load_settings(config)
    assert settings.lanes["fast-path"].spillover == SpilloverConfig(to=["general"])
    assert load_settings(off).lanes["fast-path"].spillover is None  # nothing set: off
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1")
    system = System(config=config, redis_url=server.url, supervisor=Supervisor(base), env=env)
    try:
        for role in ("classify", *LANE_SIMS):
            system.start_worker(role)
        system.api_url = system.start_api()
        system.wait_ready(["classify", *LANE_SIMS], timeout=90)
        yield Spill(system, sims, off)
    finally:
        system.supervisor.stop()
        for sim in sims.values():
            sim.stop()
        server.stop()


@pytest.fixture(autouse=True)
def quick(spill: Spill) -> None:
    for backend in LANE_SIMS.values():
        spill.slow(backend, 0)


def test_a_job_waiting_past_the_limit_runs_in_a_lane_with_room(spill: Spill) -> None:
    before = spill.stats()
    seen = {name: spill.last_call(name) for name in LANE_SIMS.values()}
    spill.slow("fast-1", AFTER + 3)  # fast-path's one slot stays busy past the limit
    first = spill.submit("hi! take 1")
    spill.until_running(first)
    second = spill.submit("hi! take 2")
    ran, moved = spill.job(first, 60), spill.job(second, 60)

    assert ran["status"] == moved["status"] == "succeeded", json.dumps([ran, moved])[:3000]
    assert ran["lane"] == "fast-path" and ran["spillover"] is None
    assert moved["lane"] == "general" and moved["backend"] == "general-1"
    record = moved["spillover"]
    assert record["from_lane"] == "fast-path" and record["to_lane"] == "general"
    assert AFTER <= record["waited_seconds"] < AFTER + 10
    assert moved["confidence"] == 0.9 and moved["strategy"] == "rules"
    assert "spillover: waited" in moved["reason"]
    assert moved["reason"].endswith("s in fast-path, general had free slots")
    # run once, in general only: one attempt, one delivery, one call, counted once
    assert [(a["lane"], a["outcome"]) for a in moved["attempts"]] == [("general", "succeeded")]
    assert moved["deliveries"] == 1
    assert spill.calls_since("general-1", seen["general-1"]) == 1
    assert spill.calls_since("fast-1", seen["fast-1"]) == 1
    after = spill.stats()
    assert (
        after.get("spillover|fast-path|general", 0) - before.get("spillover|fast-path|general", 0)
        == 1
    )
    for field in ("finished|succeeded|general|general-1", "finished|succeeded|fast-path|fast-1"):
        assert after.get(field, 0) - before.get(field, 0) == 1, field


def test_a_job_stays_while_the_other_lane_is_full(spill: Spill) -> None:
    before = spill.stat("spillover|fast-path|general")
    spill.slow("general-1", AFTER + 5)
    spill.slow("fast-1", AFTER + 2)
    busy = spill.submit("hello, take 3", route="general")  # general's one slot taken
    spill.until_running(busy)
    first = spill.submit("hi! take 4")
    spill.until_running(first)
    second = spill.submit("hi! take 5")
    jobs = [spill.job(job_id, 60) for job_id in (busy, first, second)]

    assert [j["status"] for j in jobs] == ["succeeded"] * 3, json.dumps(jobs)[:3000]
    assert [a["backend"] for a in jobs[0]["attempts"]] == ["general-1"]  # one long call
    waited = jobs[2]
    assert waited["lane"] == "fast-path" and waited["spillover"] is None
    assert waited["backend"] == "fast-1"
    assert "spillover" not in waited["reason"]
    assert waited_in_queue(waited) > AFTER + 0.5  # it was due, and general had no room
    assert spill.stat("spillover|fast-path|general") == before


def test_a_low_confidence_job_leaves_a_backed_up_expensive_lane(spill: Spill) -> None:
    spill.slow("large-1", 5)
    busy = spill.submit("write a python function that merges two sorted lists")
    spill.until_running(busy)
    unsure = spill.submit("prove that sqrt 2 is irrational, step by step")
    sure = spill.submit("refactor this code so that it reads well")
    jobs = {name: spill.job(job_id, 60) for name, job_id in (("unsure", unsure), ("sure", sure))}

    assert all(j["status"] == "succeeded" for j in jobs.values()), json.dumps(jobs)[:3000]
    moved = jobs["unsure"]
    assert moved["lane"] == "general" and moved["confidence"] == 0.65
    assert moved["spillover"]["from_lane"] == "high-compute"
    assert moved["spillover"]["confidence"] == 0.65
    assert moved["spillover"]["waited_seconds"] >= 1
    assert "with classifier confidence 0.65 (at most 0.7)" in moved["reason"]
    stayed = jobs["sure"]
    assert stayed["confidence"] == 0.85 and stayed["lane"] == "high-compute"
    assert stayed["spillover"] is None
    assert waited_in_queue(stayed) > 2  # waited, but confident: no age limit here


def restart_lane_workers(spill: Spill, config: Path) -> list[Child]:
    for name in [n for n in spill.system.workers if n != "worker-classify"]:
        child = spill.system.workers.pop(name)
        child.process.terminate()
        child.process.wait(60)
    env = {**spill.system.env, "LANEWAY_CONFIG": str(config)}
    started = []
    for lane in LANE_SIMS:
        child = spill.system.supervisor.spawn(
            f"off-{lane}", [*LANEWAY, "worker", "--lane", lane], env
        )
        spill.system.workers[child.name] = child
        started.append(child)
    deadline = time.monotonic() + 90
    for child in started:
        pid = f"-{child.process.pid}"
        while not any(pid in w for w in spill.r.hkeys(keys.WORKER_HEARTBEAT)):
            assert child.process.poll() is None, f"{child.name} exited; see its log"
            assert time.monotonic() < deadline, f"{child.name} never became ready"
            time.sleep(0.1)
    return started


def test_off_by_default_a_job_waits_in_its_lane(spill: Spill) -> None:
    restart_lane_workers(spill, spill.off_config)
    before = spill.stat("spillover|fast-path|general")
    spill.slow("fast-1", AFTER + 3)
    first = spill.submit("hi! take 6")
    spill.until_running(first)
    second = spill.submit("hi! take 7")
    jobs = [spill.job(job_id, 60) for job_id in (first, second)]

    assert [j["status"] for j in jobs] == ["succeeded"] * 2, json.dumps(jobs)[:3000]
    assert all(j["lane"] == "fast-path" and j["spillover"] is None for j in jobs)
    assert waited_in_queue(jobs[1]) > AFTER + 0.5  # general was free all along
    assert spill.stat("spillover|fast-path|general") == before
