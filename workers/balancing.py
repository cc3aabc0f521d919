"""Spreading a lane's calls over its backends, with each backend's ``max_concurrency``
held across every worker process and machine.

A call takes a slot on its backend first: a Redis ZSET per backend of slot holders,
scored by lease expiry. One script chooses a backend that has a free slot, as the
lane's selection strategy planned it (workers/selection/; by default the least
loaded: in-flight calls per unit of weight, fleet-wide), and takes it, in one round
trip. A per-process thread renews the leases of the slots its calls hold, so a
killed worker's slots come back within ``slot_lease_seconds``.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from laneway import keys
from laneway.settings import BackendConfig
from laneway.store import SlotTake, script_source
from workers.selection.plan import Plan

log = logging.getLogger(__name__)


def candidates(
    backends: Sequence[BackendConfig],
    prefer_model: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> list[BackendConfig]:
    """The backends a call may go to: those not in ``exclude``, and of them only the
    ones serving ``prefer_model`` when any does."""
    pool = [b for b in backends if b.name not in exclude]
    preferred = [b for b in pool if b.model == prefer_model]
    return preferred or pool


@dataclass(frozen=True, slots=True)
class Slot:
    """A call slot taken on ``backend``: held until released or its lease lapses."""

    backend: BackendConfig
    token: str

    @property
    def key(self) -> str:
        return keys.slots(self.backend.name)


class FleetSlots:
    """This process's side of the fleet-wide slots: taking, giving back, renewing."""

    def __init__(self, client: redis.Redis, lease_seconds: float, owner: str = "") -> None:
        self._redis = client
        self.lease_seconds = lease_seconds
        self._owner = owner
        self._take = client.register_script(script_source("slot_take", "take"))
        self._renew = client.register_script(script_source("slot_renew"))
        self._held: dict[str, Slot] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(
        self,
        pool: Sequence[BackendConfig] | Plan,
        label: str = "",
        give_back: Slot | None = None,
    ) -> Slot | None:
        """A slot on a backend of ``pool`` with room, chosen as planned (a bare list of
        backends: the least loaded); None when all are full. ``give_back`` is given
        back first, in the same round trip."""
        plan = pool if isinstance(pool, Plan) else Plan(pool)
        if give_back is not None:
            self.forget(give_back)
        if not plan.backends and give_back is None:
            return None
        token = f"{self._owner}/{label}/{secrets.token_hex(4)}"
        call_keys = [keys.slots(b.name) for b in plan.backends]
        args: list[str | float | int] = [
            self.lease_seconds,
            token,
            random.random(),
            give_back.token if give_back else "",
            plan.mode,
            random.random(),
        ]
        if give_back is not None:
            call_keys.append(give_back.key)
        if plan.state_key is not None:
            call_keys.append(plan.state_key)
        for backend in plan.backends:
            args += [backend.max_concurrency, backend.weight, backend.name]
        chosen = int(self._take(keys=call_keys, args=args))
        return self._hold(plan.backends[chosen - 1], token) if chosen else None

    def offer(self, plan: Plan, label: str, attempts: Sequence[Mapping[str, Any]]) -> SlotTake:
        """``plan``'s take for the script that starts the job (laneway/lua/start.lua),
        with the attempt to open for each candidate: the happy path's choice, slot and
        start in one round trip. :meth:`adopt` the slot it took."""
        call_keys = [keys.slots(b.name) for b in plan.backends]
        if plan.state_key is not None:
            call_keys.append(plan.state_key)
        return SlotTake(
            keys=call_keys,
            lease=self.lease_seconds,
            token=f"{self._owner}/{label}/{secrets.token_hex(4)}",
            mode=plan.mode,
            limits=[b.max_concurrency for b in plan.backends],
            weights=[b.weight for b in plan.backends],
            names=[b.name for b in plan.backends],
            attempts=list(attempts),
            randoms=(random.random(), random.random()),
        )

    def adopt(self, backend: BackendConfig, take: SlotTake) -> Slot:
        """The slot ``take`` took on ``backend`` (renewed from now on)."""
        return self._hold(backend, take.token)

    def _hold(self, backend: BackendConfig, token: str) -> Slot:
        slot = Slot(backend, token)
        with self._lock:
            self._held[token] = slot
        return slot

    def forget(self, slot: Slot) -> None:
        """Stop renewing ``slot`` (its lease lapses unless it is removed)."""
        with self._lock:
            self._held.pop(slot.token, None)

    def release(self, slot: Slot) -> None:
        """Give ``slot`` back now (its own round trip); a Redis error leaves it to its lease."""
        self.forget(slot)
        try:
            self._redis.zrem(slot.key, slot.token)
        except redis.RedisError as exc:
            log.warning("slot on %s not given back (%s); its lease lapses", slot.backend.name, exc)

    def release_with(self, slot: Slot) -> Callable[[redis.client.Pipeline], object]:
        """``slot``'s release as a command for a pipeline another write sends anyway."""
        self.forget(slot)
        return lambda pipe: pipe.zrem(slot.key, slot.token)

    def held(self) -> list[Slot]:
        with self._lock:
            return list(self._held.values())

    def renew(self) -> list[Slot]:
        """Extend every held slot's lease (one round trip); returns the slots found lost."""
        held = self.held()
        if not held:
            return []
        lost = self._renew(
            keys=[s.key for s in held], args=[self.lease_seconds, *(s.token for s in held)]
        )
        gone = [held[int(i) - 1] for i in lost]
        for slot in gone:
            log.warning(
                "lost the slot on %s (its lease lapsed): that backend may get one call more "
                "than its max_concurrency until this call ends",
                slot.backend.name,
            )
            self.forget(slot)
        return gone

    def start(self) -> FleetSlots:
        """Renew held leases a few times per lease, in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="slot-leases", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = self.lease_seconds / 4
        while not self._stop.wait(interval):
            try:
                self.renew()
            except redis.RedisError as exc:
                log.warning("could not renew call slot leases: %s", exc)


def in_flight(client: redis.Redis, backend: str) -> int:
    """Calls on ``backend`` fleet-wide now (slots whose lease has not lapsed)."""
    now_s, now_us = client.time()
    return int(client.zcount(keys.slots(backend), f"({now_s + now_us / 1e6}", "+inf"))
