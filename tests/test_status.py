"""`laneway status`: what an operator sees of a running system."""

from __future__ import annotations

import subprocess
import sys
import time

from laneway.settings import load_settings
from laneway.status import read_status
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
    assert before.finished["general"] >= 1
    for name in ("fast-a", "fast-b", "general-a", "high-a", "slow-a"):
        assert name in shown.stdout
    assert "1 / 16" in shown.stdout  # slow-a, mid-call
    general = next(line for line in shown.stdout.splitlines() if "│ general " in line)
    assert str(before.finished["general"]) in general
    assert "dead letters:" in shown.stdout
