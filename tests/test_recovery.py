"""Nothing stuck: dead workers' jobs move on, and every exception ends its job visibly.

Real processes on DEFAULT worker settings (visibility timeout 3600 s, heartbeat
every 5 s, a worker dead after 15 s of silence, job deadline 300 s): only the
lane concurrency of ``high-compute`` is 1, so that each job can be placed on a
chosen worker. A second API process gives its jobs a short deadline, for the
deadline tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
import yaml

from laneway import keys
from laneway.celery_app import create_app
from laneway.failpoints import ENV as FAILPOINTS_ENV
from laneway.jobs import JobKind
from laneway.redis_server import EmbeddedRedis
from laneway.settings import WorkerConfig, load_settings
from laneway.store import AsyncJobStore, JobStore
from laneway.supervisor import Child, Supervisor
from laneway.wire import MessageFactory
from producer.submit import Submission, plan
from tests.sim_helpers import SimBackendProcess, start_sim_backend
from tests.system import LANEWAY, System, chat, sim_backend_config, wait_job

DEFAULTS = WorkerConfig()
SHORT_DEADLINE = 3.0
SIMS = {
    "f1": ("small", "sim-f1"),
    "g1": ("medium", "sim-g1"),
    "g2": ("medium", "sim-g2"),
    "h1": ("large", "sim-h1"),
}
_WORKER_PID = re.compile(r"-(\d+)(?:\.[0-9a-f]+)?$")


class Recovery:
    def __init__(self, system: System, sims: dict[str, SimBackendProcess], short_api: str):
        self.system = system
        self.sims = sims
        self.short_api = short_api
        """An API whose jobs have a deadline of SHORT_DEADLINE seconds."""
        self.r: redis.Redis = system.redis

    def start_worker(self, role: str, name: str, env: dict[str, str] | None = None) -> Child:
        child = self.system.supervisor.spawn(
            name, [*LANEWAY, "worker", "--lane", role], {**self.system.env, **(env or {})}
        )
        self.system.workers[name] = child
        deadline = time.monotonic() + 60
        while not self.beating(child.process.pid):
            assert child.process.poll() is None, f"{name} exited; see its log"
            assert time.monotonic() < deadline, f"{name} never became ready"
            time.sleep(0.1)
        return child

    def beating(self, pid: int) -> str | None:
        """The heartbeat name of the worker process ``pid``, once it announced itself."""
        for name in self.r.hkeys(keys.WORKER_HEARTBEAT):
            match = _WORKER_PID.search(name)
            if match and int(match.group(1)) == pid:
                return str(name)
        return None

    def stop_worker(self, name: str) -> None:
        child = self.system.workers.pop(name)
        if child.process.poll() is None:
            child.process.terminate()
            child.process.wait(60)

    def kill_worker(self, name: str) -> None:
        child = self.system.workers.pop(name)
        os.kill(child.process.pid, signal.SIGKILL)
        child.process.wait(10)

    def faults(self, sim: str, **settings: Any) -> None:
        httpx.post(f"{self.sims[sim].root}/admin/faults", json=settings).raise_for_status()

    def received(self, sim: str) -> int:
        return int(httpx.get(f"{self.sims[sim].root}/admin/stats").json()["received"])

    def submit(self, body: dict[str, Any], api: str | None = None) -> str:
        response = httpx.post(f"{api or self.system.api_url}/v1/jobs", json=body, timeout=30)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def wait(self, job_id: str, timeout: float) -> dict[str, Any]:
        with self.system.client() as http:
            return wait_job(http, job_id, timeout)

    def wait_running(self, job_id: str, timeout: float = 30) -> str:
        """The worker instance holding the job (its ``worker`` field), once it runs."""
        deadline = time.monotonic() + timeout
        while True:
            status, worker = self.r.hmget(keys.job(job_id), ["status", "worker"])
            if status == "running":
                return str(worker or "")
            assert time.monotonic() < deadline, f"job {job_id} never ran: {status}"
            time.sleep(0.02)

    def final_events(self, job_id: str) -> list[str]:
        return [
            json.loads(fields["data"])["status"]
            for _, fields in self.r.xrange(keys.events(job_id))
            if fields["type"] == "status"
            and json.loads(fields["data"])["status"] in ("succeeded", "failed", "cancelled")
        ]

    def worker_log(self, name: str) -> str:
        return (self.system.supervisor.log_dir / f"{name}.log").read_text(errors="replace")


def _pid_of(worker: str) -> int:
    match = _WORKER_PID.search(worker)
    assert match, worker
    return int(match.group(1))


@pytest.fixture(scope="module")
def recovery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recovery]:
    base = tmp_path_factory.mktemp("recovery")
    server = EmbeddedRedis(base / "redis").start()
    sims = {
        name: start_sim_backend(
            "--profile", profile, "--name", name, "--model", model, "--ttft-ms", "5"
        )
        for name, (profile, model) in SIMS.items()
    }
    backend = {
        name: sim_backend_config(name, sims[name], model) for name, (_, model) in SIMS.items()
    }
    config = base / "laneway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "redis_url": server.url,
                "classifier": {"strategy": "rules"},
                "lanes": {
                    "fast-path": {"backends": [backend["f1"]]},
                    "general": {"backends": [backend["g1"], backend["g2"]]},
                    "high-compute": {"backends": [backend["h1"]], "concurrency": 1},
                },
            }
        )
    )
    # the worker settings recovery depends on are the defaults users run
    assert load_settings(config).worker == DEFAULTS
    assert (DEFAULTS.visibility_timeout, DEFAULTS.dead_after_seconds) == (3600, 15.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1")
    system = System(config=config, redis_url=server.url, supervisor=Supervisor(base), env=env)
    try:
        system.api_url = system.start_api()
        short_api = system.start_api(
            env={"LANEWAY_RETRY__JOB_DEADLINE_SECONDS": str(SHORT_DEADLINE)}
        )
        yield Recovery(system, sims, short_api)
    finally:
        system.supervisor.stop()
        for sim in sims.values():
            sim.stop()
        server.stop()


@pytest.fixture(autouse=True)
def healthy(recovery: Recovery) -> Iterator[None]:
    for name in SIMS:
        recovery.faults(name, error_rate=0, hang_rate=0, down=False, rate_limit_rate=0)
    for key in recovery.r.scan_iter("laneway:breaker:*"):
        recovery.r.delete(key)
    yield
    for name in list(recovery.system.workers):
        recovery.stop_worker(name)


def test_a_sigkilled_workers_job_finishes_on_a_live_worker_within_30s(
    recovery: Recovery,
) -> None:
    """Default settings: kombu alone would redeliver the job after an hour."""
    rec = recovery
    rec.start_worker("high-compute", "hc-victim")
    rec.faults("h1", hang_rate=1.0, hang_seconds=30)  # the call is in flight when killed
    job_id = rec.submit(chat("write a python function", route="high-compute"))
    holder = rec.wait_running(job_id)
    victim_pid = rec.system.workers["hc-victim"].process.pid
    rec.start_worker("high-compute", "hc-rescuer")
    tag = rec.r.hget(keys.job(job_id), "message_tag")
    assert tag and rec.r.hexists(keys.KOMBU_UNACKED, tag)
    calls = rec.received("h1")

    rec.kill_worker("hc-victim")
    killed = time.monotonic()
    rec.faults("h1", hang_rate=0.0)
    job = rec.wait(job_id, timeout=30)
    took = time.monotonic() - killed

    assert job["status"] == "succeeded", json.dumps(job)[:3000]
    assert took < 30, took
    assert [a["outcome"] for a in job["attempts"]] == ["interrupted", "succeeded"]
    assert job["attempts"][0]["ended_at"] is not None
    assert "stopped heartbeating" in job["reason"]
    assert rec.final_events(job_id) == ["succeeded"]  # exactly one result
    assert rec.r.xlen(keys.final(job_id)) == 1
    assert rec.received("h1") == calls + 1
    # kombu's copy of the message is gone: no second delivery an hour from now
    assert not rec.r.hexists(keys.KOMBU_UNACKED, tag)
    assert rec.r.zscore(keys.KOMBU_UNACKED_INDEX, tag) is None
    # the job named the worker holding it, forgotten once its jobs were handed over
    assert _pid_of(holder) == victim_pid
    assert rec.r.zscore(keys.HEARTBEATS, holder) is None
    assert not rec.r.exists(keys.held(holder))


def test_only_the_dead_worker_loses_its_job_not_a_frozen_or_slow_one(
    recovery: Recovery,
) -> None:
    """Two jobs of the same age: one on a worker frozen (SIGSTOP) for less than the
    dead threshold, whose backend takes longer than the heartbeat window; one on a
    worker SIGKILLed at the same moment. Only the second is handed over."""
    rec = recovery
    rec.faults("h1", hang_rate=1.0, hang_seconds=DEFAULTS.dead_after_seconds + 5)
    rec.start_worker("high-compute", "hc-slow")
    slow_job = rec.submit(chat("write a python function", route="high-compute"))
    slow_holder = rec.wait_running(slow_job)
    rec.start_worker("high-compute", "hc-doomed")  # hc-slow is busy: concurrency 1
    dead_job = rec.submit(chat("write a python function", route="high-compute"))
    dead_holder = rec.wait_running(dead_job)
    rec.start_worker("high-compute", "hc-rescuer")
    rec.faults("h1", hang_rate=0.0)  # calls made from now on answer at once
    calls = rec.received("h1")

    frozen = rec.system.workers["hc-slow"].process.pid
    os.kill(frozen, signal.SIGSTOP)
    try:
        rec.kill_worker("hc-doomed")
        killed = time.monotonic()
        time.sleep(DEFAULTS.dead_after_seconds - 2 * DEFAULTS.heartbeat_interval_seconds)
    finally:
        os.kill(frozen, signal.SIGCONT)

    dead = rec.wait(dead_job, timeout=30)
    assert dead["status"] == "succeeded", json.dumps(dead)[:3000]
    assert time.monotonic() - killed < 30
    assert [a["outcome"] for a in dead["attempts"]] == ["interrupted", "succeeded"]

    slow = rec.wait(slow_job, timeout=60)
    assert slow["status"] == "succeeded", json.dumps(slow)[:3000]
    assert [a["outcome"] for a in slow["attempts"]] == ["succeeded"], slow["attempts"]
    assert slow["deliveries"] == 1
    assert slow["attempts"][0]["latency_ms"] > DEFAULTS.dead_after_seconds * 1000
    assert rec.final_events(slow_job) == ["succeeded"]
    assert rec.received("h1") == calls + 1  # only the dead worker's job was called again
    assert _pid_of(slow_holder) == frozen and _pid_of(dead_holder) != frozen


def test_a_job_whose_deadline_passes_during_recovery_fails_without_a_backend_call(
    recovery: Recovery,
) -> None:
    rec = recovery
    rec.start_worker("high-compute", "hc-victim")
    rec.faults("h1", hang_rate=1.0, hang_seconds=30)
    job_id = rec.submit(chat("write a python function", route="high-compute"), rec.short_api)
    rec.wait_running(job_id)
    rec.start_worker("high-compute", "hc-rescuer")
    calls = rec.received("h1")
    rec.kill_worker("hc-victim")
    rec.faults("h1", hang_rate=0.0)

    job = rec.wait(job_id, timeout=30)
    assert job["status"] == "failed", json.dumps(job)[:3000]
    assert job["error_type"] == "deadline_exceeded"
    assert [a["outcome"] for a in job["attempts"]] == ["interrupted"]
    assert rec.received("h1") == calls  # the late delivery called no backend
    assert rec.final_events(job_id) == ["failed"]


def test_a_job_that_waited_past_its_deadline_fails_without_a_backend_call(
    recovery: Recovery,
) -> None:
    rec = recovery
    calls = rec.received("f1")
    job_id = rec.submit(chat("hi", route="fast-path"), rec.short_api)  # no fast-path worker yet
    deadline_at = float(rec.r.hget(keys.job(job_id), "deadline_at") or 0)
    while time.time() <= deadline_at:
        time.sleep(0.1)
    rec.start_worker("fast-path", "fp")
    job = rec.wait(job_id, timeout=30)
    assert job["status"] == "failed", json.dumps(job)[:3000]
    assert job["error_type"] == "deadline_exceeded"
    assert job["attempts"] == []
    assert rec.received("f1") == calls


def test_a_cancelled_jobs_attempt_is_closed_and_no_chunk_follows_the_cancel(
    recovery: Recovery,
) -> None:
    rec = recovery
    rec.start_worker("high-compute", "hc")
    rec.faults("h1", hang_rate=1.0, hang_seconds=30)
    job_id = rec.submit({**chat("write a python function", route="high-compute"), "stream": True})
    rec.wait_running(job_id)
    with rec.system.client() as http:
        cancelled = http.delete(f"/v1/jobs/{job_id}").json()
    assert cancelled["status"] == "cancelled"
    attempt = cancelled["attempts"][-1]
    assert attempt["outcome"] == "cancelled" and attempt["ended_at"] is not None

    # a streaming write that was under way when the cancel landed is refused
    store = JobStore(rec.r, 3600)
    assert (
        store.append_chunks(job_id, [{"choices": [{"delta": {"content": "late"}}]}], True) is False
    )
    events = [(f["type"], json.loads(f["data"])) for _, f in rec.r.xrange(keys.events(job_id))]
    statuses = [data.get("status") if kind == "status" else kind for kind, data in events]
    assert "chunks" not in statuses[statuses.index("cancelled") :], statuses
    assert rec.r.hget(keys.job(job_id), "streamed") is None


LANE_STEPS: dict[str, dict[str, Any]] = {
    # step -> the request that reaches it (faults set per step below)
    "lane.start": chat("explain photosynthesis simply", route="general"),
    "lane.started": chat("explain photosynthesis simply", route="general"),
    "lane.call": chat("explain photosynthesis simply", route="general"),
    "lane.chunk": {**chat("explain photosynthesis simply", route="general"), "stream": True},
    "lane.retry": chat("explain photosynthesis simply", route="general", model="sim-g1"),
    "lane.succeed": chat("explain photosynthesis simply", route="general"),
    "lane.hand_on": chat("explain photosynthesis simply", route="general"),
}
CLASSIFY_STEPS = ["classify.start", "classify.decided", "classify.route"]


@pytest.mark.parametrize("step", [*LANE_STEPS, *CLASSIFY_STEPS])
def test_an_exception_at_any_step_fails_the_job_visibly(recovery: Recovery, step: str) -> None:
    """The real worker raises at ``step`` (a test-only failpoint): the job fails with
    ``internal_error``, every attempt closed, its final event written, logged once."""
    rec = recovery
    role = "classify" if step.startswith("classify.") else "general"
    name = f"failing-{step}"
    rec.start_worker(role, name, {FAILPOINTS_ENV: step})
    if step == "lane.retry":
        rec.faults("g1", error_rate=1.0)
    if step == "lane.hand_on":
        rec.faults("g1", error_rate=1.0)
        rec.faults("g2", error_rate=1.0)
    body = LANE_STEPS.get(step) or chat("explain photosynthesis simply")

    job_id = rec.submit(body)
    job = rec.wait(job_id, timeout=30)

    assert job["status"] == "failed", json.dumps(job)[:3000]
    assert job["error_type"] == "internal_error"
    assert f"injected fault at {step}" in job["error"]
    assert all(a["ended_at"] is not None for a in job["attempts"]), job["attempts"]
    assert all(a["outcome"] != "running" for a in job["attempts"]), job["attempts"]
    if step in ("lane.started", "lane.call", "lane.chunk", "lane.succeed"):
        assert job["attempts"][-1]["outcome"] == "error"
    assert rec.final_events(job_id) == ["failed"]
    assert rec.r.xlen(keys.final(job_id)) == 1  # what waiters wake on
    assert not rec.r.hget(keys.job(job_id), "worker")  # no worker holds it any more
    rec.stop_worker(name)
    logged = [
        line
        for line in rec.worker_log(name).splitlines()
        if job_id in line and "internal error" in line
    ]
    assert len(logged) == 1, logged


def test_a_request_httpx_cannot_encode_fails_the_job_instead_of_hanging(
    recovery: Recovery,
) -> None:
    """An odd request that got past the API (written here by the producer itself):
    httpx refuses to encode NaN while building the backend request."""
    rec = recovery
    rec.start_worker("general", "general")
    settings = load_settings(rec.system.config)
    submission = Submission(
        tenant="default",
        kind=JobKind.CHAT,
        request={**chat("hi"), "temperature": float("nan")},
        route="general",
    )
    job_id, fields, message = plan(
        submission, MessageFactory(create_app(settings)), settings.retry.job_deadline_seconds
    )

    async def create() -> None:
        client = aioredis.Redis.from_url(rec.system.redis_url, decode_responses=True)
        try:
            await AsyncJobStore(client, settings.job_ttl_seconds).create(
                job_id, "default", fields, message
            )
        finally:
            await client.aclose()

    asyncio.run(create())
    job = rec.wait(job_id, timeout=30)
    assert job["status"] == "failed", json.dumps(job)[:3000]
    assert job["error_type"] == "internal_error"
    assert "ValueError" in job["error"]
    assert [a["outcome"] for a in job["attempts"]] == ["error"]
    assert job["attempts"][0]["ended_at"] is not None
