"""``laneway flower``: Flower on the test system lists every lane's workers through its
HTTP API, and it refuses to listen beyond loopback without basic auth."""

from __future__ import annotations

import os
import subprocess
import time

import httpx

from laneway.net import free_port, wait_for_port
from laneway.processes import terminate
from tests.system import LANEWAY, System

ROLES = ("classify", "fast-path", "general", "high-compute")


def test_flower_lists_every_lanes_workers(system: System) -> None:
    port = free_port()
    argv = [*LANEWAY, "flower", "--port", str(port), "--config", str(system.config)]
    flower = system.supervisor.spawn(f"flower-{port}", argv, system.env)
    try:
        assert wait_for_port("127.0.0.1", port, 60), f"logs in {system.supervisor.log_dir}"
        deadline = time.monotonic() + 60
        names: list[str] = []
        while time.monotonic() < deadline:
            # refresh: Flower asks the workers over the broker (Celery's remote control)
            listed = httpx.get(f"http://127.0.0.1:{port}/api/workers?refresh=1", timeout=30)
            assert listed.status_code == 200, listed.text
            workers = listed.json()
            names = list(workers)
            if all(any(name.startswith(f"{role}@") for name in names) for role in ROLES):
                break
            time.sleep(0.5)
        assert all(any(name.startswith(f"{role}@") for name in names) for role in ROLES), names
        general = next(info for name, info in workers.items() if name.startswith("general@"))
        assert general["active_queues"][0]["name"] == "laneway.general"
    finally:
        terminate(flower.process, 15)


def test_flower_beyond_loopback_needs_basic_auth() -> None:
    argv = [*LANEWAY, "flower", "--address", "0.0.0.0"]
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode == 2
    assert "refusing to serve Flower on 0.0.0.0 without authentication" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_flower_with_basic_auth_asks_for_it(system: System) -> None:
    port = free_port()
    argv = [*LANEWAY, "flower", "--port", str(port), "--config", str(system.config)]
    env = {**system.env, "FLOWER_BASIC_AUTH": "ops:s3cret"}
    flower = system.supervisor.spawn(f"flower-auth-{port}", argv, env)
    try:
        assert wait_for_port("127.0.0.1", port, 60), f"logs in {system.supervisor.log_dir}"
        url = f"http://127.0.0.1:{port}/api/workers"
        assert httpx.get(url, timeout=30).status_code == 401
        assert httpx.get(url, auth=("ops", "s3cret"), timeout=30).status_code == 200
    finally:
        terminate(flower.process, 15)
