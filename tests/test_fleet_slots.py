"""A backend's max_concurrency holds across worker processes: real workers, sims, Redis.

One lane (``general``) with two sim backends, ``cap-a`` taking 2 calls at once and
``cap-b`` 1; each worker runs 3 threads (the lane's worker concurrency), so two
workers could make 6 calls at once on 3 slots. Default worker settings (slot
lease 5 s); only the write_config shortcuts of tests/system.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from laneway import keys
from laneway.redis_server import EmbeddedRedis
from laneway.settings import WorkerConfig, load_settings
from laneway.supervisor import Child, Supervisor
from tests.sim_helpers import SimBackendProcess, start_sim_backend
from tests.system import System, chat, sim_backend_config, wait_job, write_config
from workers.balancing import in_flight

LIMITS = {"cap-a": 2, "cap-b": 1}
LEASE = WorkerConfig().slot_lease_seconds


class Fleet:
    def __init__(self, system: System, sims: dict[str, SimBackendProcess]) -> None:
        self.system = system
        self.sims = sims
        self.r = system.redis

    def start_worker(self, name: str) -> Child:
        child = self.system.start_worker("general", name)
        deadline = time.monotonic() + 60
        pid = child.process.pid
        while not any(f"-{pid}" in w for w in self.r.hkeys(keys.WORKER_HEARTBEAT)):
            assert child.process.poll() is None, f"{name} exited; see its log"
            assert time.monotonic() < deadline, f"{name} never became ready"
            time.sleep(0.1)
        return child

    def slow_calls(self, seconds: float) -> None:
        """Every call to a sim takes ``seconds`` before it answers."""
        for sim in self.sims.values():
            faults = {"hang_rate": 1.0 if seconds else 0.0, "hang_seconds": seconds}
            httpx.post(f"{sim.root}/admin/faults", json=faults).raise_for_status()

    def submit(self, text: str) -> str:
        response = httpx.post(
            f"{self.system.api_url}/v1/jobs", json=chat(text, route="general"), timeout=30
        )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        with self.system.client() as http:
            return wait_job(http, job_id, timeout)

    def calls(self, sim: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = httpx.get(f"{self.sims[sim].root}/admin/stats").json()[
            "recent"
        ]
        return records

    def fleet_in_flight(self) -> int:
        return sum(in_flight(self.r, name) for name in LIMITS)


def peak_concurrency(calls: list[dict[str, Any]]) -> int:
    """Most calls the sim had open at once, from its log of when each began and ended."""
    edges = sorted(
        [(c["started"], 1) for c in calls] + [(c["ended"], -1) for c in calls],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("fleet")
    server = EmbeddedRedis(base / "redis").start()
    sims = {
        name: start_sim_backend("--profile", "small", "--name", name, "--ttft-ms", "1")
        for name in LIMITS
    }
    backends = [
        sim_backend_config(name, sims[name], "sim-small", max_concurrency=limit)
        for name, limit in LIMITS.items()
    ]
    config = write_config(base / "laneway.yaml", server.url, {"general": backends})
    settings = load_settings(config)
    assert settings.lanes["general"].worker_concurrency == sum(LIMITS.values())
    assert settings.worker.slot_lease_seconds == WorkerConfig().slot_lease_seconds
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1")
    system = System(config=config, redis_url=server.url, supervisor=Supervisor(base), env=env)
    try:
        system.api_url = system.start_api()
        yield Fleet(system, sims)
    finally:
        system.supervisor.stop()
        for sim in sims.values():
            sim.stop()
        server.stop()


@pytest.fixture(autouse=True)
def clean(fleet: Fleet) -> Iterator[None]:
    fleet.slow_calls(0)
    yield
    for name in list(fleet.system.workers):
        child = fleet.system.workers.pop(name)
        if child.process.poll() is None:
            child.process.terminate()
            child.process.wait(60)


def test_two_workers_together_never_exceed_a_backends_max_concurrency(fleet: Fleet) -> None:
    """Also: with every backend full, the other jobs wait (no failed attempt, no
    delivery counted against them) and all complete."""
    fleet.start_worker("w1")
    fleet.start_worker("w2")
    fleet.slow_calls(0.3)
    seen = {name: max((c["id"] for c in fleet.calls(name)), default=0) for name in LIMITS}
    job_ids = [fleet.submit(f"explain photosynthesis, take {i}") for i in range(24)]
    jobs = [fleet.wait(job_id) for job_id in job_ids]

    for job in jobs:
        assert job["status"] == "succeeded", json.dumps(job)[:2000]
        assert [a["outcome"] for a in job["attempts"]] == ["succeeded"], job["attempts"]
        assert job["deliveries"] == 1  # waiting sent it on afresh: never counted as poison
    waited = int(fleet.r.hget(keys.STATS, "slot_waits|general") or 0)
    assert waited, "no job ever found every backend full: the test proves nothing"
    made = {name: [c for c in fleet.calls(name) if c["id"] > seen[name]] for name in LIMITS}
    assert sum(len(calls) for calls in made.values()) == len(job_ids)
    for name, limit in LIMITS.items():
        calls = made[name]
        assert calls and all(c["outcome"] == "completed" for c in calls)
        assert peak_concurrency(calls) == limit, (name, peak_concurrency(calls))
    assert fleet.fleet_in_flight() == 0


def test_a_sigkilled_workers_slots_come_back_within_the_lease(fleet: Fleet) -> None:
    fleet.slow_calls(30)  # the calls are in flight when the worker dies
    victim = fleet.start_worker("victim")
    stuck = [fleet.submit(f"write a python function, take {i}") for i in range(3)]
    deadline = time.monotonic() + 30
    while fleet.fleet_in_flight() < 3:
        assert time.monotonic() < deadline, "the victim never took every slot"
        time.sleep(0.05)
    assert {name: in_flight(fleet.r, name) for name in LIMITS} == LIMITS
    time.sleep(LEASE)  # held past one lease: the renewer keeps the slots
    assert fleet.fleet_in_flight() == 3

    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    fleet.system.workers.pop("victim")
    killed = time.monotonic()
    while fleet.fleet_in_flight() > 0:
        assert time.monotonic() - killed < LEASE + 2, "a dead worker's slot outlived its lease"
        time.sleep(0.05)

    fleet.slow_calls(0)
    fleet.start_worker("rescuer")
    fresh = [fleet.submit(f"explain tides, take {i}") for i in range(4)]
    for job_id in fresh + stuck:  # the dead worker's jobs are handed over too
        job = fleet.wait(job_id)
        assert job["status"] == "succeeded", json.dumps(job)[:2000]
    assert fleet.fleet_in_flight() == 0
