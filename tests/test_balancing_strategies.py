"""Selection strategies chosen per lane, end to end: real lane workers, real sims, Redis.

- fast-path: weighted round-robin over ``wrr-light`` (weight 1) and ``wrr-heavy`` (3);
- general: affinity on the request's ``user`` over ``aff-1`` and ``aff-2`` (one sim each);
- high-compute: lowest cost over ``lc-cheap`` (a 512-token window) and ``lc-dear``.

Which backend served a job is read from its record. Default worker and retry settings
apart from the write_config shortcuts of tests/system.py.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from laneway import keys
from laneway.redis_server import EmbeddedRedis
from laneway.settings import load_settings
from laneway.supervisor import Supervisor
from tests.sim_helpers import SimBackendProcess, start_sim_backend
from tests.system import System, chat, sim_backend_config, wait_job, write_config
from workers.selection.affinity import ring_order

SIMS = ("sim-1", "sim-2", "sim-aff-1", "sim-aff-2")


class Fleet:
    def __init__(self, system: System, sims: dict[str, SimBackendProcess]) -> None:
        self.system = system
        self.sims = sims
        self.settings = load_settings(system.config)

    def start_worker(self, lane: str) -> None:
        child = self.system.start_worker(lane, f"worker-{lane}")
        r = self.system.redis
        deadline = time.monotonic() + 60
        while not any(f"-{child.process.pid}" in w for w in r.hkeys(keys.WORKER_HEARTBEAT)):
            assert child.process.poll() is None, f"the {lane} worker exited; see its log"
            assert time.monotonic() < deadline, f"the {lane} worker never became ready"
            time.sleep(0.1)

    def run(self, lane: str, text: str, **extra: Any) -> dict[str, Any]:
        """Submit one job to ``lane`` and wait for its end."""
        with self.system.client() as http:
            response = http.post("/v1/jobs", json=chat(text, route=lane, **extra), timeout=30)
            assert response.status_code == 202, response.text
            job = wait_job(http, response.json()["id"], timeout=60)
        assert job["status"] == "succeeded", json.dumps(job)[:2000]
        return job

    def run_many(self, lane: str, texts: list[str], **extra: Any) -> list[dict[str, Any]]:
        with self.system.client() as http:
            ids = []
            for text in texts:
                response = http.post("/v1/jobs", json=chat(text, route=lane, **extra), timeout=30)
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
            jobs = [wait_job(http, job_id, timeout=60) for job_id in ids]
        for job in jobs:
            assert job["status"] == "succeeded", json.dumps(job)[:2000]
        return jobs


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("strategies")
    server = EmbeddedRedis(base / "redis").start()
    sims = {
        name: start_sim_backend("--profile", "small", "--name", name, "--ttft-ms", "1")
        for name in SIMS
    }
    config = write_config(
        base / "laneway.yaml",
        server.url,
        {
            "fast-path": [
                sim_backend_config("wrr-light", sims["sim-1"], "sim-small", weight=1),
                sim_backend_config("wrr-heavy", sims["sim-2"], "sim-small", weight=3),
            ],
            "general": [
                sim_backend_config("aff-1", sims["sim-aff-1"], "sim-small"),
                sim_backend_config("aff-2", sims["sim-aff-2"], "sim-small"),
            ],
            "high-compute": [
                sim_backend_config(
                    "lc-dear",
                    sims["sim-2"],
                    "sim-small",
                    context_window=4096,
                    price_per_1k_input=3.0,
                    price_per_1k_output=15.0,
                ),
                sim_backend_config(
                    "lc-cheap",
                    sims["sim-1"],
                    "sim-small",
                    context_window=512,
                    price_per_1k_input=0.1,
                    price_per_1k_output=0.2,
                ),
            ],
        },
    )
    raw = yaml.safe_load(config.read_text())
    raw["lanes"]["fast-path"]["balancing"] = "weighted-round-robin"
    raw["lanes"]["general"]["balancing"] = {"strategy": "affinity", "affinity_key": "user"}
    raw["lanes"]["high-compute"]["balancing"] = "lowest-cost"
    config.write_text(yaml.safe_dump(raw))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1")
    system = System(config=config, redis_url=server.url, supervisor=Supervisor(base), env=env)
    try:
        system.api_url = system.start_api()
        fleet = Fleet(system, sims)
        for lane in ("fast-path", "general", "high-compute"):
            fleet.start_worker(lane)
        yield fleet
    finally:
        system.supervisor.stop()
        for sim in sims.values():
            sim.stop()
        server.stop()


def test_weighted_round_robin_shares_follow_the_weights(fleet: Fleet) -> None:
    jobs = fleet.run_many("fast-path", [f"say hi, take {i}" for i in range(80)])
    served = Counter(job["backend"] for job in jobs)
    assert set(served) == {"wrr-light", "wrr-heavy"}
    share = served["wrr-heavy"] / len(jobs)
    assert abs(share - 0.75) <= 0.075, served  # within 10% of its weight's share


def test_lowest_cost_takes_the_cheapest_backend_the_request_fits(fleet: Fleet) -> None:
    short = fleet.run("high-compute", "prove that 2 + 2 = 4")
    assert short["backend"] == "lc-cheap"
    long_prompt = fleet.run("high-compute", "summarise this: " + "lorem ipsum " * 250)
    assert long_prompt["backend"] == "lc-dear"  # ~750 tokens: lc-cheap's window is 512
    big_budget = fleet.run("high-compute", "write an essay", max_tokens=600)
    assert big_budget["backend"] == "lc-dear"
    for job in (short, long_prompt, big_budget):
        assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]  # no failed try


def test_affinity_keeps_a_user_on_one_backend_and_moves_it_when_that_one_is_down(
    fleet: Fleet,
) -> None:
    lane = fleet.settings.lanes["general"].backends
    owner_of = {
        b.name: next(f"user-{i}" for i in range(100) if ring_order(lane, f"user-{i}")[0] == b.name)
        for b in lane
    }
    for backend, user in owner_of.items():
        jobs = fleet.run_many("general", [f"explain tides, take {i}" for i in range(6)], user=user)
        assert {job["backend"] for job in jobs} == {backend}, (
            user,
            Counter(j["backend"] for j in jobs),
        )

    user, down = owner_of["aff-1"], "aff-1"
    fleet.sims["sim-aff-1"].stop()
    moved = fleet.run_many("general", [f"explain the moon, take {i}" for i in range(6)], user=user)
    assert {job["backend"] for job in moved} == {"aff-2"}
    tried_down = [a for job in moved for a in job["attempts"] if a["backend"] == down]
    assert all(a["outcome"] == "error" for a in tried_down)
    # the other user never moved
    stayed = fleet.run("general", "explain gravity", user=owner_of["aff-2"])
    assert stayed["backend"] == "aff-2"
