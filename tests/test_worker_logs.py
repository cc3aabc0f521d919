"""A healthy system's worker logs stay quiet: no line per health probe or HTTP call."""

from __future__ import annotations

import time

from laneway import keys
from tests.system import System


def _probe_seen_anew(system: System, backend: str, timeout: float = 30) -> None:
    """Wait for a fresh health probe of ``backend``: its interval lock is taken anew (its
    time to live jumps back up, or it appears)."""
    lock = keys.health_probe_lock(backend)
    deadline = time.monotonic() + timeout
    last = system.redis.pttl(lock)
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = system.redis.pttl(lock)
        if now > 0 and (last <= 0 or now > last + 50):
            return
        last = now
    raise AssertionError(f"no health probe of {backend} within {timeout}s")


def test_health_probes_of_healthy_backends_write_nothing_to_the_log(system: System) -> None:
    # Earlier tests may have taken backends down (logged once, as a change of state):
    # only what is written while every backend is healthy counts.
    _probe_seen_anew(system, "fast-a")
    logs = sorted(system.supervisor.log_dir.glob("worker-*.log"))
    start = {log: log.stat().st_size for log in logs}
    for _ in range(2):
        _probe_seen_anew(system, "fast-a")
    for log in logs:
        with log.open("rb") as file:
            file.seek(start[log])
            written = file.read().decode(errors="replace")
        assert "HTTP Request:" not in written, log
        assert "health probe:" not in written, log
