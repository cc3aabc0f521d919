"""``laneway_api_requests_total{route,status}``: counted in the process, added to the
cluster-wide counters in Redis now and then.

A round trip per request would cost more than the count is worth: each API process
counts in memory and adds its counts to ``keys.STATS`` every ``FLUSH_SECONDS`` (in
one pipelined round trip) and in the ``/metrics`` scrape's own pipeline, so a scrape
sees every process's counts up to a few seconds old, and its own exactly. The route
label is the route's template (``/v1/jobs/{job_id}``), never the raw path, so the
label set is bounded; a path no route matches counts as ``unmatched``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import suppress

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from laneway import keys

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
UNMATCHED = "unmatched"


class RequestCounts:
    """Requests answered by this process and not yet added to Redis."""

    def __init__(self) -> None:
        self.pending: Counter[tuple[str, int]] = Counter()

    def take(self) -> Counter[tuple[str, int]]:
        taken, self.pending = self.pending, Counter()
        return taken

    def queue_flush(self, pipe: aioredis.client.Pipeline) -> Counter[tuple[str, int]]:
        """Add the pending counts to ``pipe``; returns them, to :meth:`restore` on failure."""
        taken = self.take()
        for (route, status), n in taken.items():
            pipe.hincrby(keys.STATS, f"api_requests|{route}|{status}", n)
        return taken

    def restore(self, taken: Counter[tuple[str, int]]) -> None:
        self.pending.update(taken)

    async def flush(self, client: aioredis.Redis) -> None:
        if not self.pending:
            return
        async with client.pipeline(transaction=False) as pipe:
            taken = self.queue_flush(pipe)
            try:
                await pipe.execute()
            except RedisError:
                self.restore(taken)
                raise

    async def flush_forever(self, client: aioredis.Redis) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush(client)
            except RedisError as exc:  # counted again at the next flush
                log.warning("could not add API request counts to Redis: %s", exc)

    async def close(self, client: aioredis.Redis, task: asyncio.Task[None]) -> None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        with suppress(RedisError):
            await self.flush(client)


class CountRequests:
    """ASGI middleware: counts each HTTP answer by route template and status."""

    def __init__(self, app: ASGIApp, counts: RequestCounts) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            self.counts.pending[(template, status)] += 1
