"""Shared pieces of the benchmarks: starting a system, timing, printing."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import yaml

from laneway.lanes import LANES
from laneway.net import free_port, wait_for_port
from laneway.redis_server import EmbeddedRedis
from laneway.supervisor import Supervisor

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
class BenchSystem:
    supervisor: Supervisor
    redis_url: str
    api_url: str
    sim_urls: dict[str, str]
    env: dict[str, str]


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


@contextmanager
def laneway_system(
    sim_args: dict[str, list[str]], lane_concurrency: int = 16, api_workers: int = 1
) -> Iterator[BenchSystem]:
    """Embedded Redis (AOF on), sim backends, classifier, lane workers and the API."""
    with TemporaryDirectory(prefix="laneway-bench-") as tmp:
        base = Path(tmp)
        redis = EmbeddedRedis(base / "redis").start()
        supervisor = Supervisor(base)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        try:
            sim_urls = {}
            for lane in LANES:
                port = free_port()
                supervisor.spawn(
                    f"sim-{lane}",
                    [
                        sys.executable,
                        "-m",
                        "laneway.sim",
                        "--port",
                        str(port),
                        "--model",
                        BENCH_MODEL,
                    ]
                    + sim_args[lane],
                    env,
                )
                sim_urls[lane] = f"http://127.0.0.1:{port}"
            for url in sim_urls.values():
                wait_http(url + "/health")
            config = {
                "redis_url": redis.url,
                "classifier": {"strategy": "rules"},
                "lanes": {
                    lane: {
                        "concurrency": lane_concurrency,
                        "backends": [
                            {
                                "name": f"sim-{lane}",
                                "base_url": sim_urls[lane] + "/v1",
                                "model": BENCH_MODEL,
                                "max_concurrency": 64,
                            }
                        ],
                    }
                    for lane in LANES
                },
            }
            config_path = base / "laneway.yaml"
            config_path.write_text(yaml.safe_dump(config))
            env["LANEWAY_CONFIG"] = str(config_path)
            for role in ("classify", *LANES):
                supervisor.spawn(
                    f"worker-{role}",
                    [*LANEWAY, "worker", "--lane", role, "--loglevel", "WARNING"],
                    env,
                )
            api_port = free_port()
            supervisor.spawn(
                "api",
                [*LANEWAY, "api", "--port", str(api_port), "--workers", str(api_workers)],
                env,
            )
            wait_for_port("127.0.0.1", api_port, 30)
            api_url = f"http://127.0.0.1:{api_port}"
            deadline = time.monotonic() + 60
            while httpx.get(api_url + "/readyz", timeout=5).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("laneway did not become ready")
                time.sleep(0.2)
            yield BenchSystem(supervisor, redis.url, api_url, sim_urls, env)
        finally:
            supervisor.stop()
            redis.stop()
