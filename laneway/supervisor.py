"""``laneway up``: every component of the system as child processes on loopback."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import redis
import yaml

from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE, LANES
from laneway.net import free_port, wait_for_port
from laneway.redis_server import EmbeddedRedis, reachable
from laneway.settings import BackendConfig, Settings

SIM_PROFILE_FOR_LANE = {FAST_PATH: "small", GENERAL: "medium", HIGH_COMPUTE: "large"}
_PR_SET_PDEATHSIG = 1
SUPERVISOR_ENV = "SUPERVISED_BY_LANEWAY"
"""Set on every child to the supervisor's data directory, so they can be found."""


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor dies, so nothing is left behind."""
    with suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]


@dataclass
class Supervisor:
    data_dir: Path
    children: list[Child] = field(default_factory=list)
    embedded_redis: EmbeddedRedis | None = None

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            env={**env, SUPERVISOR_ENV: str(self.data_dir)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only us; we stop children in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        return [c for c in self.children if c.process.poll() is not None]

    def stop(self, timeout: float = 15.0) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
            child.log.close()
        self.children.clear()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
            self.embedded_redis = None


def persistence_warning(url: str) -> str | None:
    """Why ``url``'s Redis could lose jobs on a restart, or None if it persists them."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, decode_responses=True)
        config = client.config_get("appendonly") | client.config_get("save")
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "")
    except redis.RedisError:
        return None  # CONFIG may be disabled on managed Redis; nothing to say
    problems = []
    if config.get("appendonly") != "yes" and not config.get("save"):
        problems.append("it keeps nothing on disk (no AOF, no snapshots)")
    if policy and policy != "noeviction":
        problems.append(f"maxmemory-policy is {policy}, so it may evict queued jobs")
    return "; ".join(problems) or None


def resolve_redis(supervisor: Supervisor, url: str, embedded: bool) -> str:
    if not embedded and reachable(url):
        return url
    supervisor.embedded_redis = EmbeddedRedis(supervisor.data_dir / "redis").start()
    return supervisor.embedded_redis.url


def start_sim_backends(
    supervisor: Supervisor, settings: Settings, env: dict[str, str]
) -> dict[str, list[BackendConfig]]:
    """One sim backend per lane that has no backend configured."""
    started: dict[str, list[BackendConfig]] = {}
    for lane in LANES:
        if settings.lanes[lane].backends:
            continue
        profile = SIM_PROFILE_FOR_LANE[lane]
        port = free_port()
        name = f"sim-{profile}"
        supervisor.spawn(
            name,
            [
                sys.executable,
                "-m",
                "laneway.sim",
                "--port",
                str(port),
                "--profile",
                profile,
                "--name",
                name,
            ],
            env,
        )
        started[lane] = [
            BackendConfig(
                name=name,
                base_url=f"http://127.0.0.1:{port}/v1",
                model=f"sim-{profile}",
                max_concurrency=64,
                context_window={"small": 4096, "medium": 16384, "large": 65536}[profile],
            )
        ]
    for backends in started.values():
        port = int(backends[0].base_url.rsplit(":", 1)[1].split("/")[0])
        if not wait_for_port("127.0.0.1", port, 15):
            raise RuntimeError(f"sim backend {backends[0].name} did not start")
    return started


def write_effective_config(settings: Settings, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False))


def wait_ready(api_url: str, supervisor: Supervisor, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        dead = supervisor.exited()
        if dead:
            names = ", ".join(c.name for c in dead)
            raise RuntimeError(f"{names} exited during start-up; see {supervisor.log_dir}")
        try:
            response = httpx.get(f"{api_url}/readyz", timeout=2)
            last = response.json()
            if response.status_code == 200:
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the system was not ready within {timeout:.0f}s: {last}")
