"""Shared pieces of the benchmarks: starting a system, timing, printing."""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import yaml

from laneway.lanes import LANES
from laneway.net import free_port, wait_for_port
from laneway.redis_server import EmbeddedRedis
from laneway.supervisor import Child, Supervisor

LANEWAY = [sys.executable, "-m", "laneway.cli"]
BENCH_MODEL = "bench"
"""Every bench sim backend also answers to this model name."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values_ms: list[float]) -> str:
    return f"p50 {statistics.median(values_ms):7.2f} ms   p99 {percentile(values_ms, 99):7.2f} ms"


@dataclass
class SimProcess:
    """One sim backend child; ``argv`` restarts it on the same port."""

    name: str
    lane: str
    port: int
    argv: list[str]
    child: Child

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class BenchSystem:
    supervisor: Supervisor
    redis_url: str
    api_url: str
    sim_urls: dict[str, str]
    """The first sim backend of each lane."""
    env: dict[str, str]
    sims: list[SimProcess] = field(default_factory=list)
    workers: dict[str, list[Child]] = field(default_factory=dict)
    """Live worker children per role (``classify`` or a lane)."""
    config_path: Path | None = None
    _spawned: int = 0

    def start_worker(self, role: str) -> Child:
        """Start one more worker process for ``role``."""
        self._spawned += 1
        child = self.supervisor.spawn(
            f"worker-{role}-{self._spawned}",
            [*LANEWAY, "worker", "--lane", role, "--loglevel", "WARNING"],
            self.env,
        )
        self.workers.setdefault(role, []).append(child)
        return child

    def kill_worker(self, child: Child) -> None:
        """SIGKILL a worker (no warm shutdown, no acks: its reserved jobs stay unacked)."""
        with suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait()
        for children in self.workers.values():
            if child in children:
                children.remove(child)

    def kill_sim(self, sim: SimProcess) -> None:
        with suppress(ProcessLookupError):
            os.killpg(sim.child.process.pid, signal.SIGKILL)
        sim.child.process.wait()

    def restart_sim(self, sim: SimProcess, timeout: float = 15) -> None:
        """Start a killed sim backend again on the same port."""
        if sim.child.process.poll() is None:
            return
        sim.child = self.supervisor.spawn(sim.name, sim.argv, self.env)
        wait_http(sim.url + "/health", timeout)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, nested dicts key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _start_laneway(
    system: BenchSystem, workers_per_lane: int, api_workers: int, ready_timeout: float
) -> None:
    """The classifier, ``workers_per_lane`` workers per lane and the API, on the system's
    config; returns once /readyz says every role is live."""
    system.start_worker("classify")
    for lane in LANES:
        for _ in range(workers_per_lane):
            system.start_worker(lane)
    api_port = free_port()
    argv = [*LANEWAY, "api", "--port", str(api_port), "--workers", str(api_workers)]
    system.supervisor.spawn("api", argv, system.env)
    wait_for_port("127.0.0.1", api_port, 30)
    api_url = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + ready_timeout
    while httpx.get(api_url + "/readyz", timeout=5).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"laneway did not become ready; logs in {system.supervisor.log_dir}")
        time.sleep(0.2)
    system.api_url = api_url


@contextmanager
def laneway_system(
    sim_args: dict[str, list[str]],
    lane_concurrency: int = 16,
    api_workers: int = 1,
    *,
    backends_per_lane: int = 1,
    workers_per_lane: int = 1,
    config_overrides: dict[str, Any] | None = None,
) -> Iterator[BenchSystem]:
    """Embedded Redis (AOF on), sim backends, classifier, lane workers and the API.

    ``backends_per_lane`` sims (``sim-<lane>``, or ``sim-<lane>-<n>`` when more than
    one) and ``workers_per_lane`` worker processes per lane; ``config_overrides`` is
    merged into the generated config (e.g. ``{"retry": {...}, "worker": {...}}``).
    """
    with TemporaryDirectory(prefix="laneway-bench-") as tmp:
        base = Path(tmp)
        redis = EmbeddedRedis(base / "redis").start()
        supervisor = Supervisor(base)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        try:
            sims: list[SimProcess] = []
            for lane in LANES:
                for n in range(1, backends_per_lane + 1):
                    port = free_port()
                    name = f"sim-{lane}" if backends_per_lane == 1 else f"sim-{lane}-{n}"
                    argv = [
                        sys.executable,
                        "-m",
                        "laneway.sim",
                        "--port",
                        str(port),
                        "--model",
                        BENCH_MODEL,
                        "--name",
                        name,
                        *sim_args[lane],
                    ]
                    child = supervisor.spawn(name, argv, env)
                    sims.append(SimProcess(name, lane, port, argv, child))
            for sim in sims:
                wait_http(sim.url + "/health")
            sim_urls: dict[str, str] = {}
            for sim in sims:
                sim_urls.setdefault(sim.lane, sim.url)
            config: dict[str, Any] = {
                "redis_url": redis.url,
                "classifier": {"strategy": "rules"},
                "lanes": {
                    lane: {
                        "concurrency": lane_concurrency,
                        "backends": [
                            {
                                "name": sim.name,
                                "base_url": sim.url + "/v1",
                                "model": BENCH_MODEL,
                                "max_concurrency": 64,
                            }
                            for sim in sims
                            if sim.lane == lane
                        ],
                    }
                    for lane in LANES
                },
            }
            config = _merge(config, config_overrides or {})
            config_path = base / "laneway.yaml"
            config_path.write_text(yaml.safe_dump(config))
            env["LANEWAY_CONFIG"] = str(config_path)
            system = BenchSystem(supervisor, redis.url, "", sim_urls, env, sims, {}, config_path)
            _start_laneway(system, workers_per_lane, api_workers, ready_timeout=60)
            yield system
        finally:
            supervisor.stop()
            redis.stop()


@contextmanager
def sim_fleet(specs: list[tuple[str, list[str]]]) -> Iterator[list[SimProcess]]:
    """Sim backends alone, without laneway: one per ``(name, sim arguments)``, each on a
    free port, stopped on exit. ``lane`` of each is left empty."""
    with TemporaryDirectory(prefix="laneway-fleet-") as tmp:
        supervisor = Supervisor(Path(tmp))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        try:
            sims: list[SimProcess] = []
            for name, args in specs:
                port = free_port()
                argv = [sys.executable, "-m", "laneway.sim", "--port", str(port)]
                argv += ["--name", name, *args]
                sims.append(SimProcess(name, "", port, argv, supervisor.spawn(name, argv, env)))
            for sim in sims:
                wait_http(sim.url + "/health")
            yield sims
        finally:
            supervisor.stop()


@contextmanager
def laneway_over(
    lanes: dict[str, dict[str, Any]],
    config_overrides: dict[str, Any] | None = None,
    api_workers: int = 1,
    ready_timeout: float = 120,
    workers_per_lane: int = 1,
) -> Iterator[BenchSystem]:
    """Embedded Redis (AOF on), the classifier, ``workers_per_lane`` worker processes per
    lane and the API, over backends that already run. ``lanes``: each lane's config
    section (``backends``, ``concurrency`` ...). The classifier is laneway's default
    unless the overrides say otherwise."""
    with TemporaryDirectory(prefix="laneway-bench-") as tmp:
        base = Path(tmp)
        redis = EmbeddedRedis(base / "redis").start()
        supervisor = Supervisor(base)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        try:
            config = _merge({"redis_url": redis.url, "lanes": lanes}, config_overrides or {})
            config_path = base / "laneway.yaml"
            config_path.write_text(yaml.safe_dump(config))
            env["LANEWAY_CONFIG"] = str(config_path)
            system = BenchSystem(supervisor, redis.url, "", {}, env, [], {}, config_path)
            _start_laneway(system, workers_per_lane, api_workers, ready_timeout)
            yield system
        finally:
            supervisor.stop()
            redis.stop()
