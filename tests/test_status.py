"""`laneway status`: what an operator sees of a running system."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from laneway import histograms, keys
from laneway.histograms import Series, bound_text
from laneway.settings import load_settings
from laneway.status import read_status
from tests.side_system import side_system
from tests.system import System, chat, wait_job

LANEWAY = [sys.executable, "-m", "laneway.cli"]


def test_status_shows_workers_finished_jobs_and_calls_in_flight(system: System) -> None:
    settings = load_settings(system.config)
    with system.client() as client:
        done = client.post("/v1/jobs", json=chat("hello", route="general")).json()
        wait_job(client, done["id"])
        before = read_status(system.redis, settings)
        # a slow call (sim-slow streams 40 tokens/s) holds a slot on slow-a while it runs
        slow = client.post(
            "/v1/jobs", json={"model": "sim-slow", **chat("tell me a long story")}
        ).json()
        deadline = time.monotonic() + 20
        seen = None
        while time.monotonic() < deadline:
            now = read_status(system.redis, settings)
            seen = next(b for b in now.backends if b.name == "slow-a")
            if seen.in_flight:
                break
            time.sleep(0.05)
        assert seen is not None and seen.in_flight == 1, seen
        assert seen.limit == 16 and seen.breaker == "closed"
        shown = subprocess.run(
            [*LANEWAY, "status", "--config", str(system.config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**system.env, "COLUMNS": "200"},
        )
        wait_job(client, slow["id"], timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert before.workers == {"classify": 1, "fast-path": 1, "general": 1, "high-compute": 1}
    for lane in ("fast-path", "general", "high-compute"):
        assert before.concurrency[lane] == settings.lanes[lane].worker_concurrency
    assert before.concurrency["classify"] >= 1
    assert before.finished["general"] >= 1
    for name in ("fast-a", "fast-b", "general-a", "high-a", "slow-a"):
        assert name in shown.stdout
    assert "1 / 16" in shown.stdout  # slow-a, mid-call
    general = next(line for line in shown.stdout.splitlines() if "│ general " in line)
    assert str(before.finished["general"]) in general
    assert "dead letters:" in shown.stdout


def status_json(config: Path, env: dict[str, str]) -> dict[str, Any]:
    shown = subprocess.run(
        [*LANEWAY, "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    found: dict[str, Any] = json.loads(shown.stdout)
    return found


def bucket_of(seconds: float) -> tuple[float, float]:
    """The backend-call histogram bucket a duration falls in: (lower, upper]."""
    lower = 0.0
    for bound in histograms.LATENCY:
        if seconds <= bound:
            return lower, bound
        lower = bound
    return lower, float("inf")


def test_oldest_age_concurrency_and_p50_of_a_side_system(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No lane workers at first: the queued jobs' age shows; then a worker with
    --concurrency 3 takes them, and the last minute's throughput and p50 follow."""
    with side_system(system, tmp_path_factory.mktemp("status"), db=14) as side:
        config = side.config("status", {})
        api = side.start_api(config)
        env = {**system.env, "LANEWAY_CONFIG": str(config)}
        ids = []
        with httpx.Client(base_url=api, timeout=30) as client:
            for _ in range(2):
                accepted = client.post("/v1/jobs", json=chat("hi", route="general"))
                assert accepted.status_code == 202, accepted.text
                ids.append(accepted.json()["id"])
                time.sleep(0.3)  # spaced out, so that the oldest job is told apart
        first, second = (float(side.redis.hget(keys.job(i), "created_at") or 0) for i in ids)
        asked = time.time()
        snapshot = read_status(side.redis, load_settings(config))
        answered = time.time()
        # the first job's age when it looked, not the second's (0.3 s younger)
        assert asked - first - 0.05 <= snapshot.oldest["laneway.general"] <= answered - first
        assert snapshot.oldest["laneway.general"] > answered - second
        asked = time.time()
        queued = status_json(config, env)  # the command shows the same
        assert asked - first - 0.05 <= queued["oldest"]["laneway.general"] <= time.time() - first
        assert queued["depths"]["laneway.general"] == 2
        assert "laneway.fast-path" not in queued["oldest"]
        assert queued["workers"].get("general", 0) == 0
        assert queued["finished_last_minute"] == {}

        argv = [*LANEWAY, "worker", "--lane", "general", "--concurrency", "3"]
        side._spawn("status-general", argv, config)
        side.wait_ready("general")
        with httpx.Client(base_url=api, timeout=60) as client:
            for _ in range(8):
                accepted = client.post("/v1/jobs", json=chat("hello there", route="general"))
                ids.append(accepted.json()["id"])
            jobs = [wait_job(client, job_id, timeout=60) for job_id in ids]
        assert all(job["status"] == "succeeded" for job in jobs), jobs
        calls = [a["latency_ms"] / 1000 for job in jobs for a in job["attempts"]]
        shown = status_json(config, env)
    assert shown["workers"]["general"] == 1 and shown["concurrency"]["general"] == 3
    assert shown["depths"]["laneway.general"] == 0 and shown["oldest"] == {}
    assert shown["finished_last_minute"] == {"general": len(ids)}
    assert 50 <= shown["window_seconds"] <= 60
    general_a = next(b for b in shown["backends"] if b["name"] == "general-a")
    assert general_a["calls_last_minute"] == len(calls)
    # the median call's bucket holds the estimate; a fresh database: since start agrees
    lower, upper = bucket_of(statistics.median(calls))
    assert lower <= general_a["p50_last_minute"] <= upper, (calls, general_a)
    assert general_a["p50_since_start"] == general_a["p50_last_minute"]
    assert next(b for b in shown["backends"] if b["name"] == "fast-a")["p50_last_minute"] is None


def test_quantile_interpolates_within_the_bucket_as_prometheus_does() -> None:
    bounds = (0.1, 0.5, 1.0)
    series = Series({bound_text(0.1): 2, bound_text(0.5): 2})
    assert series.quantile(0.5, bounds) == pytest.approx(0.1)
    assert series.quantile(0.75, bounds) == pytest.approx(0.3)
    assert Series({"+Inf": 3}).quantile(0.5, bounds) == 1.0
    assert Series().quantile(0.5, bounds) is None
