"""Workers tell Redis they are alive: for readiness checks, and so that the jobs of a
worker that dies are handed to a live one (see ``workers.watchdog``).

Each process that runs tasks has its own instance id (a restarted worker never
reuses its predecessor's, even with the same host name and pid) and beats every
``worker.heartbeat_interval_seconds``: the beat is stamped with Redis's clock in
``laneway:heartbeats``, and the worker's main process also announces its role and
concurrency in ``laneway:workers`` for ``/readyz``, the ``laneway_workers`` metric and
``laneway status``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import redis

from laneway import keys
from laneway.store import script_source

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0
"""The default and longest ``worker.heartbeat_interval_seconds``."""
STALE_AFTER_SECONDS = 3 * INTERVAL_SECONDS

_identity_lock = threading.Lock()
_identities: dict[int, str] = {}
_beating: dict[int, Heartbeat] = {}


def worker_identity(role: str) -> str:
    """This process's worker instance id (one per process: pool children get their own)."""
    with _identity_lock:
        return _identity(role, os.getpid())


def _identity(role: str, pid: int) -> str:
    found = _identities.get(pid)
    if found is None:
        found = _identities[pid] = f"{role}@{socket.gethostname()}-{pid}.{secrets.token_hex(4)}"
    return found


class Heartbeat:
    def __init__(
        self,
        client: redis.Redis,
        name: str,
        role: str,
        interval: float = INTERVAL_SECONDS,
        announce: bool = True,
        concurrency: int | None = None,
    ) -> None:
        self._redis = client
        self._name = name
        self._role = role
        self._interval = interval
        self.announce = announce
        """Also list the worker for readiness checks (its main process does)."""
        self.concurrency = concurrency
        """Jobs the worker runs at once, announced with its role."""
        self._script = client.register_script(script_source("heartbeat"))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="laneway-heartbeat", daemon=True)

    def start(self) -> None:
        try:
            self._beat()
        except redis.RedisError as exc:
            log.warning("heartbeat not recorded: %r", exc)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with suppress(redis.RedisError):
            self._script(
                keys=[keys.HEARTBEATS, keys.WORKER_HEARTBEAT], args=[self._name, "", "leave"]
            )

    def _beat(self) -> None:
        entry = {"role": self._role, "at": time.time(), "concurrency": self.concurrency}
        announcement = json.dumps(entry) if self.announce else ""
        self._script(keys=[keys.HEARTBEATS, keys.WORKER_HEARTBEAT], args=[self._name, announcement])

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except redis.RedisError as exc:
                # Redis may be restarting; the next beat retries
                log.warning("heartbeat not recorded: %r", exc)


def ensure_heartbeat(
    client: redis.Redis,
    role: str,
    interval: float,
    announce: bool = False,
    concurrency: int | None = None,
) -> Heartbeat:
    """The heartbeat of this process, started on first call (``announce`` once asked
    for stays on, as does a ``concurrency`` given). Every process that takes jobs must
    beat, or its jobs look orphaned."""
    pid = os.getpid()
    with _identity_lock:
        beat = _beating.get(pid)
        started = beat is None
        if beat is None:
            beat = _beating[pid] = Heartbeat(
                client, _identity(role, pid), role, interval, announce, concurrency
            )
        upgraded = announce and not beat.announce
        beat.announce = beat.announce or announce
        beat.concurrency = concurrency or beat.concurrency
    if started:
        beat.start()
    elif upgraded:
        with suppress(redis.RedisError):
            beat._beat()
    return beat


def _fresh(entries: dict[str, str], now: float | None) -> Iterator[dict[str, Any]]:
    now = now or time.time()
    for raw in entries.values():
        try:
            entry: dict[str, Any] = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict) and now - float(entry.get("at", 0)) <= STALE_AFTER_SECONDS:
            yield entry


def live_roles(entries: dict[str, str], now: float | None = None) -> dict[str, int]:
    """How many fresh workers each role has, from the heartbeat hash."""
    roles: dict[str, int] = {}
    for entry in _fresh(entries, now):
        role = str(entry.get("role"))
        roles[role] = roles.get(role, 0) + 1
    return roles


def live_concurrency(entries: dict[str, str], now: float | None = None) -> dict[str, int]:
    """Jobs each role's fresh workers run at once, summed (workers that announce no
    concurrency, from before it was announced, count as 1)."""
    roles: dict[str, int] = {}
    for entry in _fresh(entries, now):
        role = str(entry.get("role"))
        roles[role] = roles.get(role, 0) + int(entry.get("concurrency") or 1)
    return roles
