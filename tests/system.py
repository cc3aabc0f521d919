"""A whole laneway system of real processes for tests: Redis, sims, workers, API."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml

from laneway.lanes import LANES
from laneway.net import free_port, wait_for_port
from laneway.supervisor import Child, Supervisor
from tests.sim_helpers import SimBackendProcess

LANEWAY = [sys.executable, "-m", "laneway.cli"]


def write_config(
    path: Path, redis_url: str, backends: dict[str, list[dict[str, Any]]], **extra: Any
) -> Path:
    lanes = {lane: {"backends": backends.get(lane, [])} for lane in LANES}
    config = {
        "redis_url": redis_url,
        "data_dir": str(path.parent / "data"),  # uploaded files go here (batch.storage_url)
        "lanes": lanes,
        "classifier": {"strategy": "rules"},
        "worker": {
            "task_soft_time_limit": 20,
            "task_time_limit": 25,
            "visibility_timeout": 40,
            "read_timeout_seconds": 10,
        },
        "retry": {"max_defer_seconds": 10, "job_deadline_seconds": 60},
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def sim_backend_config(
    name: str, sim: SimBackendProcess, model: str, **extra: Any
) -> dict[str, Any]:
    return {"name": name, "base_url": sim.base_url, "model": model, **extra}


@dataclass
class System:
    """Processes sharing one config; tests start and stop parts of it."""

    config: Path
    redis_url: str
    supervisor: Supervisor
    env: dict[str, str]
    api_url: str = ""
    workers: dict[str, Child] = field(default_factory=dict)

    @property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)

    def start_worker(self, role: str, name: str | None = None, *args: str) -> Child:
        child = self.supervisor.spawn(
            name or f"worker-{role}", [*LANEWAY, "worker", "--lane", role, *args], self.env
        )
        self.workers[child.name] = child
        return child

    def start_api(self, port: int | None = None, env: dict[str, str] | None = None) -> str:
        port = port or free_port()
        self.supervisor.spawn(
            f"api-{port}", [*LANEWAY, "api", "--port", str(port)], {**self.env, **(env or {})}
        )
        if not wait_for_port("127.0.0.1", port, 30):
            raise RuntimeError("API did not start")
        return f"http://127.0.0.1:{port}"

    def wait_ready(self, roles: Iterable[str], timeout: float = 30) -> None:
        from laneway.heartbeat import live_roles

        deadline = time.monotonic() + timeout
        wanted = set(roles)
        while time.monotonic() < deadline:
            live = live_roles(self.redis.hgetall("laneway:workers"))
            if all(live.get(role, 0) > 0 for role in wanted):
                return
            time.sleep(0.1)
        raise RuntimeError(f"workers {wanted} not ready; logs in {self.supervisor.log_dir}")

    def client(self, api_key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30)


def wait_job(client: httpx.Client, job_id: str, timeout: float = 20) -> dict[str, Any]:
    response = client.get(f"/v1/jobs/{job_id}", params={"wait": timeout})
    response.raise_for_status()
    job: dict[str, Any] = response.json()
    return job


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def job_keys(client: redis.Redis) -> int:
    """Keys of jobs and their streams: what a submit writes. (DBSIZE would count the
    health prober's and breakers' short-lived keys too.)"""
    return sum(1 for _ in client.scan_iter("laneway:job:*", count=1000))
