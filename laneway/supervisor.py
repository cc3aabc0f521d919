"""``laneway up``: every component of the system as supervised child processes.

A child that dies is restarted with backoff (and logged); only a crash loop — more than
``max_restarts`` restarts within ``restart_window`` seconds — stops the system, with the
reason. Listening sockets are bound here, once, and handed to the children by file
descriptor: no other process can take a port between choosing and binding it, and a
restarted child serves on the same port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import redis
import yaml

from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE, LANES
from laneway.redis_server import EmbeddedRedis, reachable
from laneway.settings import BackendConfig, Settings

SIM_PROFILE_FOR_LANE = {FAST_PATH: "small", GENERAL: "medium", HIGH_COMPUTE: "large"}
SIM_CONTEXT_WINDOW = {"small": 4096, "medium": 16384, "large": 65536}
_PR_SET_PDEATHSIG = 1
SUPERVISOR_ENV = "SUPERVISED_BY_LANEWAY"
"""Set on every child to the supervisor's data directory, so they can be found."""


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor dies, so nothing is left behind."""
    with suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def listen(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on ``port``, or on a free port when that one is taken (or 0)."""
    for candidate in dict.fromkeys((port, 0)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            continue
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock
    raise RuntimeError(f"cannot bind a port on {host}")


def describe_exit(code: int) -> str:
    if code < 0:
        with suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class CrashLoop(RuntimeError):
    """A child kept dying: the system is stopped rather than restarted for ever."""


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...]
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    """While it is down: when it is started again (time.monotonic())."""


@dataclass
class Supervisor:
    data_dir: Path
    children: list[Child] = field(default_factory=list)
    embedded_redis: EmbeddedRedis | None = None
    sockets: list[socket.socket] = field(default_factory=list)
    max_restarts: int = 5
    restart_window: float = 60.0
    report: Callable[[str], None] = print
    stopping: bool = False

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def listen(self, port: int) -> socket.socket:
        sock = listen(port)
        self.sockets.append(sock)
        return sock

    def _popen(
        self, name: str, argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...]
    ) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            env={**env, SUPERVISOR_ENV: str(self.data_dir)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            pass_fds=pass_fds,
            start_new_session=True,  # Ctrl-C reaches only us; we stop children in order
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        return process, log

    def spawn(
        self, name: str, argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = ()
    ) -> Child:
        process, log = self._popen(name, argv, env, pass_fds)
        child = Child(name, argv, env, pass_fds, process, log)
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        return [c for c in self.children if c.process.poll() is not None]

    def watch(self) -> None:
        """Restart what died, with backoff; :class:`CrashLoop` when one keeps dying."""
        now = time.monotonic()
        if self.embedded_redis is not None and not self.embedded_redis.running():
            self.report("redis-server exited; restarting it on the same port and data")
            self.embedded_redis.start()
        for child in self.children:
            code = child.process.poll()
            if code is None or self.stopping:
                continue
            if child.restart_at is None:
                while child.restarts and now - child.restarts[0] > self.restart_window:
                    child.restarts.popleft()
                if len(child.restarts) >= self.max_restarts:
                    raise CrashLoop(
                        f"{child.name} died {len(child.restarts) + 1} times within "
                        f"{self.restart_window:.0f}s (last: {describe_exit(code)}); giving up. "
                        f"Its log: {self.log_dir / (child.name + '.log')}"
                        + _tail(self.log_dir / f"{child.name}.log")
                    )
                delay = min(30.0, 0.5 * 2 ** len(child.restarts))
                child.restart_at = now + delay
                self.report(
                    f"{child.name} exited ({describe_exit(code)}); restarting in {delay:g}s"
                )
            elif now >= child.restart_at:
                child.log.close()
                child.process, child.log = self._popen(
                    child.name, child.argv, child.env, child.pass_fds
                )
                child.restarts.append(now)
                child.restart_at = None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every child (newest first), SIGKILL what is left after ``timeout``;
        the embedded Redis last, once nothing uses it."""
        self.stopping = True
        for child in reversed(self.children):
            if child.process.poll() is None:
                with suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
            child.log.close()
        self.children.clear()
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()
            self.embedded_redis = None


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n  " + "\n  ".join(text) if text else ""


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
        sock = supervisor.listen(0)
        name = f"sim-{profile}"
        argv = [sys.executable, "-m", "laneway.sim", "--fd", str(sock.fileno())]
        argv += ["--profile", profile, "--name", name]
        supervisor.spawn(name, argv, env, pass_fds=(sock.fileno(),))
        started[lane] = [
            BackendConfig(
                name=name,
                base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1",
                model=f"sim-{profile}",
                max_concurrency=64,
                context_window=SIM_CONTEXT_WINDOW[profile],
            )
        ]
    return started


def write_effective_config(settings: Settings, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False))


def wait_ready(api_url: str, supervisor: Supervisor, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        supervisor.watch()
        try:
            response = httpx.get(f"{api_url}/readyz", timeout=2)
            last = response.json()
            if response.status_code == 200:
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the system was not ready within {timeout:.0f}s: {last}")
