"""`laneway up`: the whole system from one command, and nothing left behind on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

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


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANEWAY_", "REDIS_URL"))}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def _pid_of(marker: str, command: str) -> int | None:
    for pid in processes_mentioning(marker):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if command in cmdline:
            return pid
    return None


def test_up_starts_everything_heals_and_stops_fast(tmp_path: Path) -> None:
    """As a new user would: `laneway up`, every hint it prints run exactly as printed, a
    killed worker replaced, then Ctrl-C. Ports 8000 and 5555 are taken beforehand, so the
    API and Flower must bind others and say which."""
    data = tmp_path / ".laneway"  # the default data dir of a user in tmp_path
    squatters = [listen_on(8000), listen_on(5555)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "laneway.cli", "up", "--embedded-redis"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_clean_env(),
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    output = []
    deadline = time.monotonic() + 150
    stopped_in = None
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
        assert len(processes_mentioning(str(data))) >= 9, "3 sims, API, 4 workers and Flower"

        run = json.loads((data / "run.json").read_text())
        for url in (run["api_url"], run["flower_url"]):
            assert not url.endswith((":8000", ":5555")), url
        assert httpx.get(f"{run['api_url']}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"{run['flower_url']}/healthcheck", timeout=5).text == "OK"

        # every hint, copied as printed, works from the user's directory
        hints = text.split("Try it")[1].splitlines()[1:]
        hints = [h.strip() for h in hints if h.startswith("  ")]
        assert len(hints) >= 3, text
        for hint in hints:
            done = subprocess.run(
                hint,
                shell=True,
                cwd=tmp_path,
                env=_clean_env(),
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert done.returncode == 0, (hint, done.stdout, done.stderr)
            assert "Traceback" not in done.stdout + done.stderr
        listing = subprocess.run(
            [*LANEWAY, "dead", "list"],
            cwd=tmp_path,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run["redis_url"] in listing.stdout, listing.stdout  # the embedded one
        created = subprocess.run(
            [*LANEWAY, "keys", "create", "--tenant", "someone", "--json"],
            cwd=tmp_path,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        embedded = redis.Redis.from_url(run["redis_url"], decode_responses=True)
        assert any(embedded.scan_iter("laneway:apikey*")), "the key went to the embedded Redis"
        key = json.loads(created.stdout)["key"]
        headers = {"Authorization": f"Bearer {key}"}

        # a killed lane worker is replaced, and its lane serves again
        first = _pid_of(str(data), "worker --lane general")
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: _pid_of(str(data), "worker --lane general") not in (None, first))
        body = {"messages": [{"role": "user", "content": "hello"}], "route": "general"}
        job = httpx.post(f"{run['api_url']}/v1/jobs", json=body, headers=headers, timeout=10)
        answered = httpx.get(
            f"{run['api_url']}/v1/jobs/{job.json()['id']}",
            params={"wait": 60},
            headers=headers,
            timeout=70,
        ).json()
        assert answered["status"] == "succeeded", answered
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - started
        for sock in squatters:
            sock.close()
    assert "worker-general exited (killed by SIGKILL); restarting" in rest, rest
    assert proc.returncode == 0, rest
    assert "all laneway processes stopped" in rest
    print(f"Ctrl-C stopped everything in {stopped_in:.2f}s")
    assert stopped_in < 10, f"Ctrl-C took {stopped_in:.1f}s"  # 12 s before the fix, ~1-2 now
    assert processes_mentioning(str(data)) == []
    assert not (data / "run.json").exists()
    assert (data / "redis" / "appendonlydir").exists() or list((data / "redis").glob("*.aof"))


def listen_on(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        pass  # something else holds it already: the test's premise stands
    return sock


def wait_until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_commands_say_in_one_line_when_nothing_runs(tmp_path: Path) -> None:
    closed = listen_on(0)
    port = closed.getsockname()[1]
    closed.close()
    env = {**_clean_env(), "LANEWAY_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    for argv in (["dead", "list"], ["dead", "requeue", "--all"]):
        done = subprocess.run(
            [*LANEWAY, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1, done
        lines = (done.stdout + done.stderr).strip().splitlines()
        assert "Traceback" not in done.stderr
        message = " ".join(lines)
        assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in message, message
        assert "laneway up" in message
        assert len(lines) <= 3, lines  # one sentence, folded to the terminal's width at most
    submit = subprocess.run(
        [*LANEWAY, "submit", "hi", "--api", f"http://127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert submit.returncode == 1
    assert "Traceback" not in submit.stderr
    assert f"cannot reach the API at http://127.0.0.1:{port}" in submit.stderr


LANEWAY = [sys.executable, "-m", "laneway.cli"]


LANEWAY_UP = [sys.executable, "-m", "laneway.cli", "up"]


def test_up_on_a_redis_that_keeps_nothing_says_so(tmp_path: Path) -> None:
    volatile = EmbeddedRedis(tmp_path / "volatile", durable=False).start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
        done = subprocess.run(
            [
                *LANEWAY_UP,
                "--exit",
                "--no-flower",
                "--no-store-content",
                "--data-dir",
                str(tmp_path / "data"),
            ],
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
    # --no-store-content: the demo's jobs are answered, and their content is not kept
    assert "Traceback" not in done.stdout + done.stderr
    effective = (tmp_path / "data" / "effective-config.yaml").read_text()
    assert "store_content: false" in effective
    assert not processes_mentioning(str(tmp_path / "data"))
