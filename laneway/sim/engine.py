"""The compute of one simulated server: slots, a FIFO queue in front of them, shared speed.

A batching server (vLLM, TGI, llama.cpp with ``--parallel``) decodes its active
sequences together, one step for all of them at a time. A step for ``n`` sequences takes
longer than a step for one, so each sequence gets slower as more run beside it while the
server's total tokens/s still grows, sub-linearly. The engine models that with one
number, the *batch slowdown* ``β``: with ``n`` active sequences each advances at
``1 / (1 + β (n - 1))`` of its solo speed (β = 0: every request runs at full speed
whatever else runs, the sim's behaviour before the engine). At most ``slots``
sequences are active; later requests wait in arrival order.

Progress is tracked on one *work clock* that runs at the current per-sequence speed:
a request that needs ``w`` seconds of solo work is done when the work clock has
advanced ``w`` past where it stood when the request got its slot. Waiters are woken
whenever the speed rises, so a departure speeds the others up at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

TIMER_RESOLUTION = 0.001
"""Seconds; the event loop's timers are no finer."""


class Sequence:
    """One request holding a slot; ``wait_for_work`` paces it on the shared work clock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.start = engine.work_clock()

    async def wait_for_work(self, seconds: float) -> None:
        """Return once this sequence has had ``seconds`` of solo-speed work since its start."""
        await self._engine.wait_until(self.start + seconds)


class Engine:
    def __init__(self, slots: int = 0, batch_slowdown: float = 0.0) -> None:
        """``slots`` = 0: no limit, nobody queues."""
        if slots < 0:
            raise ValueError("slots must be >= 0")
        if batch_slowdown < 0:
            raise ValueError("batch_slowdown must be >= 0")
        self.slots = slots
        self.batch_slowdown = batch_slowdown
        self.active = 0
        self._queue: deque[asyncio.Future[None]] = deque()
        self._wakers: set[asyncio.Future[None]] = set()
        self._speed = 1.0
        self._work = 0.0
        self._stamp = time.monotonic()
        self.peak_active = 0
        self.peak_queued = 0
        self.peak_in_flight = 0
        """Most requests holding or waiting for a slot at once: what the clients sent."""
        self._busy = 0.0
        self._busy_stamp = self._stamp

    # -- the work clock --------------------------------------------------------------

    def work_clock(self) -> float:
        return self._work + self._speed * (time.monotonic() - self._stamp)

    def speed_at(self, active: int) -> float:
        """Per-sequence speed (1 = solo) with ``active`` sequences decoding together."""
        return 1.0 / (1.0 + self.batch_slowdown * max(active - 1, 0))

    def _set_active(self, active: int) -> None:
        now = time.monotonic()
        self._work += self._speed * (now - self._stamp)
        self._busy += self.active * (now - self._busy_stamp)
        self._busy_stamp = now
        self._stamp = now
        self.active = active
        self.peak_active = max(self.peak_active, active)
        faster = self.speed_at(active) > self._speed
        self._speed = self.speed_at(active)
        if faster:  # waiters slept on the slower speed's estimate: let them recompute
            for waker in self._wakers:
                if not waker.done():
                    waker.set_result(None)

    async def wait_until(self, work: float) -> None:
        loop = asyncio.get_running_loop()
        # Within a timer tick is close enough: uvloop rounds timers to milliseconds, so
        # waiting out a smaller rest would spin through the loop instead of sleeping.
        while (remaining := work - self.work_clock()) > TIMER_RESOLUTION:
            waker: asyncio.Future[None] = loop.create_future()
            timer = loop.call_later(remaining / self._speed, _wake, waker)
            self._wakers.add(waker)
            try:
                await waker
            finally:
                timer.cancel()
                self._wakers.discard(waker)

    # -- slots -----------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._queue)

    @asynccontextmanager
    async def sequence(self) -> AsyncIterator[Sequence]:
        """Hold a slot (waiting in arrival order for one) for the duration of the block."""
        await self._acquire()
        try:
            yield Sequence(self)
        finally:
            self._release()

    async def _acquire(self) -> None:
        if not self.slots or (self.active < self.slots and not self._queue):
            self._set_active(self.active + 1)
            self._count_in_flight()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        self.peak_queued = max(self.peak_queued, self.queued)
        self._count_in_flight()
        try:
            await waiter  # _release hands its slot over: ``active`` is already counted
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot arrived just as the client left: pass it on
            elif waiter in self._queue:  # (_release may have dropped it already)
                self._queue.remove(waiter)
            raise

    def _count_in_flight(self) -> None:
        self.peak_in_flight = max(self.peak_in_flight, self.active + self.queued)

    def _release(self) -> None:
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._set_active(self.active - 1)

    # -- counters --------------------------------------------------------------------

    def reset_counters(self) -> None:
        """Peaks restart from the current state; busy slot-seconds from zero."""
        self.peak_active = self.active
        self.peak_queued = len(self._queue)
        self.peak_in_flight = self.active + len(self._queue)
        self._busy = 0.0
        self._busy_stamp = time.monotonic()

    def snapshot(self) -> dict[str, Any]:
        busy = self._busy + self.active * (time.monotonic() - self._busy_stamp)
        return {
            "slots": self.slots,
            "batch_slowdown": self.batch_slowdown,
            "active": self.active,
            "queued": self.queued,
            "peak_active": self.peak_active,
            "peak_queued": self.peak_queued,
            "peak_in_flight": self.peak_in_flight,
            "busy_slot_seconds": round(busy, 3),
        }


def _wake(waker: asyncio.Future[None]) -> None:
    if not waker.done():
        waker.set_result(None)
