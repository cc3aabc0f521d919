"""`laneway up`: the whole system from one command, and nothing left behind on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from laneway.redis_server import EmbeddedRedis


def processes_mentioning(marker: str) -> list[int]:
    """Processes whose environment or command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "environ").read_bytes() + (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in seen:
            found.append(int(entry.name))
    return found


def test_up_starts_everything_demo_works_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANEWAY_", "REDIS_URL"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "laneway.cli", "up", "--embedded-redis", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    output = []
    deadline = time.monotonic() + 120
    try:
        for line in proc.stdout:
            output.append(line)
            if "laneway is up" in line or time.monotonic() > deadline:
                break
        text = "".join(output)
        assert "laneway is up" in text, text
        for expected in ("Flower", "embedded, AOF on", "sim-small", "sim-medium", "sim-large"):
            assert expected in text
        # one demo row per lane, each answered by that lane's sim backend
        demo = text.split("demo: one request per lane")[1]
        for lane, backend in (
            ("fast-path", "sim-small"),
            ("general", "sim-medium"),
            ("high-compute", "sim-large"),
        ):
            assert lane in demo and backend in demo, text
        children = processes_mentioning(str(data))
        assert len(children) >= 10, "Redis, 3 sims, API, 4 workers and Flower"
        api_port = next(
            line.split("http://127.0.0.1:")[1].split()[0].strip("│ ")
            for line in output
            if "API docs" in line
        ).split("/")[0]
        ready = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "all laneway processes stopped" in rest
    time.sleep(0.5)
    assert processes_mentioning(str(data)) == []
    assert (data / "redis" / "appendonlydir").exists() or list((data / "redis").glob("*.aof"))


LANEWAY_UP = [sys.executable, "-m", "laneway.cli", "up"]


def test_up_on_a_redis_that_keeps_nothing_says_so(tmp_path: Path) -> None:
    volatile = EmbeddedRedis(tmp_path / "volatile", durable=False).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        done = subprocess.run(
            [*LANEWAY_UP, "--exit", "--no-flower", "--data-dir", str(tmp_path / "data")],
            env={**env, "REDIS_URL": volatile.url, "COLUMNS": "200"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        volatile.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"the Redis at {volatile.url} could lose jobs" in done.stdout, done.stdout
    assert "keeps nothing on disk" in done.stdout
    assert not processes_mentioning(str(tmp_path / "data"))
