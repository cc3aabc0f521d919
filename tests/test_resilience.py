"""Failure handling with real processes: dying workers, failing backends, Redis restarts.

This module runs its own system (own Redis with AOF, own sims, own workers) with
short deadlines and timeouts, so that failures play out in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from laneway import keys
from laneway.redis_server import EmbeddedRedis
from laneway.supervisor import Supervisor
from tests.sim_helpers import SimBackendProcess, start_sim_backend
from tests.system import System, chat, sim_backend_config, wait_job, write_config

RETRY = {
    "max_attempts_per_lane": 2,
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "job_deadline_seconds": 8,
    "max_deliveries": 3,
    "breaker_failure_threshold": 50,  # breakers are exercised in their own test
    "breaker_cooldown_seconds": 1,
    "health_probe_interval_seconds": 60,
    "max_defer_seconds": 1,
    "lost_message_grace_seconds": 2,
}
WORKER = {
    "task_soft_time_limit": 4,
    "task_time_limit": 5,
    "visibility_timeout": 7,
    "read_timeout_seconds": 1.5,
    "heartbeat_interval_seconds": 1,
    "dead_after_seconds": 4,
}
SIMS = {
    "f1": ("small", "sim-f1"),
    "g1": ("medium", "sim-g1"),
    "g2": ("medium", "sim-g2"),
    "h1": ("large", "sim-h1"),
}


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[System, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("resilience")
    server = EmbeddedRedis(base / "redis").start()
    sims: dict[str, SimBackendProcess] = {
        name: start_sim_backend(
            "--profile",
            profile,
            "--name",
            name,
            "--model",
            model,
            "--ttft-ms",
            "5",
            "--tokens-per-second",
            "2000",
        )
        for name, (profile, model) in SIMS.items()
    }
    config = write_config(
        base / "laneway.yaml",
        server.url,
        {
            "fast-path": [sim_backend_config("f1", sims["f1"], "sim-f1")],
            "general": [
                sim_backend_config("g1", sims["g1"], "sim-g1"),
                sim_backend_config("g2", sims["g2"], "sim-g2"),
            ],
            "high-compute": [sim_backend_config("h1", sims["h1"], "sim-h1")],
        },
        retry=RETRY,
        worker=WORKER,
        classifier={"strategy": "rules", "timeout_seconds": 1.0, "unclassified_after_seconds": 1.5},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1")
    system = System(config=config, redis_url=server.url, supervisor=Supervisor(base), env=env)
    state: dict[str, Any] = {"sims": sims, "redis": server}
    try:
        for role in ("classify", "fast-path", "general", "high-compute"):
            system.start_worker(role)
        system.api_url = system.start_api()
        system.wait_ready(["classify", "fast-path", "general", "high-compute"])
        yield system, state
    finally:
        system.supervisor.stop()
        for sim in state["sims"].values():
            sim.stop()
        state["redis"].stop()


@pytest.fixture(autouse=True)
def healthy(chaos: tuple[System, dict[str, Any]]) -> Iterator[None]:
    """Every test starts with healthy sims and closed breakers."""
    system, state = chaos
    for sim in state["sims"].values():
        httpx.post(
            f"{sim.root}/admin/faults",
            json={"error_rate": 0, "hang_rate": 0, "down": False, "rate_limit_rate": 0},
        )
    r = system.redis
    for key in r.scan_iter("laneway:breaker:*"):
        r.delete(key)
    time.sleep(1.1)  # workers re-read breaker states at most once a second
    yield


def faults(state: dict[str, Any], name: str, **settings: Any) -> None:
    response = httpx.post(f"{state['sims'][name].root}/admin/faults", json=settings)
    response.raise_for_status()


def stats(state: dict[str, Any], name: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{state['sims'][name].root}/admin/stats").json()
    return data


def final_events(r: redis.Redis, job_id: str) -> list[str]:
    return [
        json.loads(fields["data"])["status"]
        for _, fields in r.xrange(keys.events(job_id))
        if fields["type"] == "status"
        and json.loads(fields["data"])["status"] in ("succeeded", "failed", "cancelled")
    ]


def submit(system: System, body: dict[str, Any]) -> str:
    with system.client() as http:
        response = http.post("/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id


def wait(system: System, job_id: str, timeout: float = 30) -> dict[str, Any]:
    with system.client() as http:
        return wait_job(http, job_id, timeout)


def test_500s_are_answered_by_another_backend_of_the_lane(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    system, state = chaos
    faults(state, "g1", error_rate=1.0)
    job = wait(system, submit(system, chat("hello", model="sim-g1", route="general")))
    assert job["status"] == "succeeded", json.dumps(job)[:3000]
    assert job["backend"] == "g2"
    outcomes = [(a["backend"], a["outcome"]) for a in job["attempts"]]
    assert outcomes == [("g1", "error"), ("g2", "succeeded")]
    assert "HTTP 500" in job["attempts"][0]["error"]


def test_a_hanging_backend_times_out_and_another_answers(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    system, state = chaos
    faults(state, "g1", hang_rate=1.0)
    job = wait(system, submit(system, chat("hello", model="sim-g1", route="general")))
    assert job["status"] == "succeeded" and job["backend"] == "g2", job
    assert "timeout" in job["attempts"][0]["error"]
    assert job["attempts"][0]["ended_at"] - job["attempts"][0]["started_at"] >= 1.4


def test_refused_connections_fall_back_to_the_next_lane(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    system, state = chaos
    f1 = state["sims"]["f1"]
    port = int(f1.root.rsplit(":", 1)[1])
    f1.stop()  # the fast-path lane's only backend refuses connections now
    try:
        job = wait(system, submit(system, chat("hi", route="fast-path")))
    finally:
        state["sims"]["f1"] = start_sim_backend(
            "--profile", "small", "--name", "f1", "--model", "sim-f1", port=port
        )
    assert job["status"] == "succeeded", json.dumps(job)[:3000]
    assert job["lane"] == "general" and job["backend"] in ("g1", "g2")
    assert "fallback from fast-path" in job["reason"]
    lanes = [a["lane"] for a in job["attempts"]]
    assert lanes[0] == "fast-path" and lanes[-1] == "general"
    assert "connection failed" in job["attempts"][0]["error"]


def test_all_backends_down_dead_letters_then_requeue_completes(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    system, state = chaos
    for name in SIMS:
        faults(state, name, down=True)
    job_id = submit(system, chat("hi", route="general"))
    job = wait(system, job_id)
    assert job["status"] == "failed" and job["dead_lettered"] is True, job
    tried = {a["lane"] for a in job["attempts"]}
    assert {"general", "high-compute"} <= tried, job["attempts"]
    assert all(a["outcome"] == "error" and "503" in a["error"] for a in job["attempts"])
    history = len(job["attempts"])

    cli = [sys.executable, "-m", "laneway.cli", "dead"]
    listed = subprocess.run(
        [*cli, "list"],
        env={**system.env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert job_id in listed.stdout, listed.stdout + listed.stderr

    for name in SIMS:
        faults(state, name, down=False)
    requeued = subprocess.run(
        [*cli, "requeue", job_id], env=system.env, capture_output=True, text=True, timeout=60
    )
    assert requeued.returncode == 0 and f"{job_id}: ok" in requeued.stdout, requeued.stderr
    job = wait(system, job_id)
    assert job["status"] == "succeeded", json.dumps(job)[:3000]
    assert job["dead_lettered"] is False and job["error"] is None
    assert len(job["attempts"]) == history + 1  # the history is kept
    assert job["attempts"][-1]["outcome"] == "succeeded"
    assert job_id not in [f["job_id"] for _, f in system.redis.xrange(keys.DEAD_LETTERS)]


def test_open_breaker_sends_traffic_elsewhere_and_closes_after_recovery(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    system, state = chaos
    r = system.redis
    faults(state, "g1", error_rate=1.0)
    # a low threshold for this test: two consecutive failures open g1's breaker
    for _ in range(2):
        r.eval("return redis.call('HINCRBY', KEYS[1], 'failures', 1)", 1, keys.breaker("g1"))
    job = wait(system, submit(system, chat("hello", model="sim-g1", route="general")))
    assert job["status"] == "succeeded" and job["backend"] == "g2"
    breaker = r.hgetall(keys.breaker("g1"))
    assert breaker.get("failures") == "3"
    # open, with a cooldown that cannot end during the next three jobs
    r.hset(keys.breaker("g1"), mapping={"state": "open", "opened_at": time.time() + 60})
    time.sleep(1.1)
    before = stats(state, "g1")["received"]
    for _ in range(3):  # while open, g1 gets no traffic even when asked for by name
        job = wait(system, submit(system, chat("hello", model="sim-g1", route="general")))
        assert job["backend"] == "g2" and len(job["attempts"]) == 1
    assert stats(state, "g1")["received"] == before
    faults(state, "g1", error_rate=0.0)
    r.hset(keys.breaker("g1"), "opened_at", time.time() - 2)  # cooled down
    time.sleep(1.2)  # the next call is the half-open probe
    job = wait(system, submit(system, chat("hello", model="sim-g1", route="general")))
    assert job["backend"] == "g1", job
    assert r.hget(keys.breaker("g1"), "state") == "closed"


def test_sigkill_during_a_backend_call_is_redelivered_once(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    system, state = chaos
    faults(state, "h1", hang_rate=1.0, hang_seconds=1.0)  # a slow answer: time to kill
    job_id = submit(system, chat("write a python function", route="high-compute"))
    with system.client() as http:
        deadline = time.monotonic() + 10
        while http.get(f"/v1/jobs/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    victim = system.workers.pop("worker-high-compute")
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    faults(state, "h1", hang_rate=0.0)
    system.start_worker("high-compute")
    job = wait(system, job_id, timeout=40)  # handed over once the heartbeat is 4 s old
    assert job["status"] == "succeeded", json.dumps(job)[:3000]
    assert [a["outcome"] for a in job["attempts"]] == ["interrupted", "succeeded"]
    assert final_events(system.redis, job_id) == ["succeeded"]  # exactly one result


def test_a_worker_dying_mid_stream_fails_the_job_instead_of_answering_twice(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    """Clients may already have shown the first delivery's tokens: a redelivery must
    not stream a second answer after them."""
    system, _ = chaos
    body = {**chat("write a python function", route="high-compute"), "stream": True}
    job_id = submit(system, {**body, "max_tokens": 6000})  # ~3 s of tokens at 2000/s
    deadline = time.monotonic() + 10
    while not system.redis.hget(keys.job(job_id), "streamed"):
        assert time.monotonic() < deadline, "the job never started streaming"
        time.sleep(0.02)
    victim = system.workers.pop("worker-high-compute")
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    system.start_worker("high-compute")
    job = wait(system, job_id, timeout=40)  # handed over once the heartbeat is 4 s old
    assert job["status"] == "failed", json.dumps(job)[:3000]
    assert job["error_type"] == "lost"
    assert "died mid-stream" in job["error"]
    assert job["deliveries"] == 2
    assert final_events(system.redis, job_id) == ["failed"]


def test_a_message_lost_by_a_dying_worker_is_sent_again(
    chaos: tuple[System, dict[str, Any]],
) -> None:
    """kombu pops a message before recording it as unacknowledged: a worker killed in
    between loses it. Reproduced exactly: a frozen idle worker's pending BRPOP takes
    the message into its socket buffer, then the worker is killed."""
    system, _ = chaos
    victim = system.workers.pop("worker-fast-path")
    # The worker must be frozen while its BRPOP is pending; between two BRPOPs it
    # takes nothing. Then it is let go, finishes that job, and is frozen again.
    for _ in range(5):
        os.kill(victim.process.pid, signal.SIGSTOP)
        job_id = submit(system, chat("hi", route="fast-path"))
        deadline = time.monotonic() + 3
        while system.redis.llen("laneway.fast-path") and time.monotonic() < deadline:
            time.sleep(0.05)
        if system.redis.llen("laneway.fast-path") == 0:
            break  # taken by the frozen worker
        os.kill(victim.process.pid, signal.SIGCONT)
        assert wait(system, job_id, timeout=30)["status"] == "succeeded"
    try:
        assert system.redis.llen("laneway.fast-path") == 0, "never caught a pending BRPOP"
    finally:
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.wait(10)
    assert system.redis.hlen(keys.KOMBU_UNACKED) == 0  # and recorded nowhere: lost
    system.start_worker("fast-path")
    job = wait(system, job_id, timeout=30)
    assert job["status"] == "succeeded", job
    assert "sent again" in job["reason"]
    assert final_events(system.redis, job_id) == ["succeeded"]


def test_redis_restart_keeps_queued_jobs(chaos: tuple[System, dict[str, Any]]) -> None:
    system, state = chaos
    worker = system.workers.pop("worker-general")
    worker.process.terminate()
    worker.process.wait(30)
    served = stats(state, "g1")["completed"] + stats(state, "g2")["completed"]
    job_ids = [submit(system, chat(f"job {i}", route="general")) for i in range(8)]
    assert system.redis.llen("laneway.general") == 8

    server: EmbeddedRedis = state["redis"]
    server.stop()  # a clean shutdown: the AOF has everything
    server.start()
    assert system.redis.llen("laneway.general") == 8

    system.start_worker("general")
    jobs = [wait(system, job_id, timeout=40) for job_id in job_ids]
    assert [j["status"] for j in jobs] == ["succeeded"] * 8, jobs
    for job in jobs:
        assert final_events(system.redis, job["id"]) == ["succeeded"]
        assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]
    assert stats(state, "g1")["completed"] + stats(state, "g2")["completed"] == served + 8


def _swap_classifier(system: System, tmp: Path, **classifier: Any) -> None:
    """Replace the classifier worker by one with another configuration (or none)."""
    old = system.workers.pop("worker-classify", None)
    if old is not None:
        old.process.terminate()
        old.process.wait(30)
    if not classifier:
        return
    config = tmp / "classifier.yaml"
    settings = _yaml(system.config)
    settings["classifier"] = classifier
    config.write_text(yaml.safe_dump(settings))
    child = system.supervisor.spawn(
        "worker-classify",
        [sys.executable, "-m", "laneway.cli", "worker", "--lane", "classify"],
        {**system.env, "LANEWAY_CONFIG": str(config)},
    )
    system.workers["worker-classify"] = child
    time.sleep(0.5)
    system.wait_ready(["classify"])


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


@pytest.mark.parametrize("fault", ["raises", "hangs", "down"])
def test_a_failing_classifier_still_routes_to_general(
    chaos: tuple[System, dict[str, Any]], tmp_path: Path, fault: str
) -> None:
    system, state = chaos
    r = system.redis
    for key in r.hkeys("laneway:workers"):
        if key.startswith("classify@"):
            r.hdel("laneway:workers", key)
    llm = state["sims"]["g2"]
    if fault == "down":
        _swap_classifier(system, tmp_path)
    else:
        if fault == "raises":
            faults(state, "g2", error_rate=1.0)
        else:
            faults(state, "g2", hang_rate=1.0, hang_seconds=30)
        _swap_classifier(
            system,
            tmp_path,
            strategy="llm",
            llm_base_url=llm.base_url,
            llm_model="sim-g2",
            timeout_seconds=1.0 if fault == "raises" else 0.5,
            unclassified_after_seconds=1.5,
        )
    try:
        started = time.monotonic()
        job = wait(system, submit(system, chat("write a python function that sorts a list")))
        elapsed = time.monotonic() - started
        assert job["status"] == "succeeded", json.dumps(job)[:3000]
        assert job["lane"] == "general" and job["strategy"] == "fallback", job
        assert elapsed < 8, elapsed  # bounded: the classifier never blocks a job for long
        if fault == "down":
            assert "did not answer within" in job["reason"]
    finally:
        faults(state, "g2", error_rate=0.0, hang_rate=0.0)
        _swap_classifier(
            system, tmp_path, strategy="rules", timeout_seconds=1.0, unclassified_after_seconds=1.5
        )
