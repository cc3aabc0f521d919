"""Per-key rate limits and monthly token quotas, checked before a request is accepted.

One Lua script (``laneway/lua/ratelimit.lua``) checks and takes every limit of a key
in one Redis round trip, so API replicas share the limits and a refused request
writes nothing. Refusals and admissions answer as OpenAI's API does: 429 with
``Retry-After``, an error of type ``requests`` or ``tokens`` and code
``rate_limit_exceeded``, and ``x-ratelimit-*`` headers on every answer to a
limited key's request.
"""

from __future__ import annotations

import calendar
import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError
from laneway import keys
from laneway.apikeys import Limits
from laneway.store import script_source

HEADERS_STATE = "laneway_ratelimit_headers"
"""Where an admitted request's ``x-ratelimit-*`` headers wait for its response."""
PRINCIPAL_STATE = "principal"
"""Where authentication leaves the caller (``request.state.principal``)."""
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str
    """``ok``, ``requests``, ``tokens``, ``too_large``, ``monthly``; ``peek`` when only
    asked where the limits stand."""
    requests_left: int
    requests_reset_ms: int
    tokens_left: int
    tokens_reset_ms: int
    wait_ms: int
    month_used: int

    @property
    def admitted(self) -> bool:
        return self.outcome == "ok"


def month_window(now: float) -> tuple[str, int]:
    """This month's name (UTC, ``YYYY-MM``) and when the next one starts (unix s)."""
    day = time.gmtime(now)
    year, month = (day.tm_year + 1, 1) if day.tm_mon == 12 else (day.tm_year, day.tm_mon + 1)
    return f"{day.tm_year:04d}-{day.tm_mon:02d}", calendar.timegm((year, month, 1, 0, 0, 0))


def duration(ms: int) -> str:
    """A span the way OpenAI's ``x-ratelimit-reset-*`` headers write it: ``12ms``,
    ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def ratelimit_headers(limits: Limits, verdict: Verdict) -> dict[str, str]:
    headers: dict[str, str] = {}
    if limits.rpm is not None:
        headers["x-ratelimit-limit-requests"] = str(limits.rpm)
        headers["x-ratelimit-remaining-requests"] = str(max(0, verdict.requests_left))
        headers["x-ratelimit-reset-requests"] = duration(verdict.requests_reset_ms)
    if limits.tpm is not None:
        headers["x-ratelimit-limit-tokens"] = str(limits.tpm)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, verdict.tokens_left))
        headers["x-ratelimit-reset-tokens"] = duration(verdict.tokens_reset_ms)
    if limits.monthly_tokens is not None:
        left = max(0, limits.monthly_tokens - verdict.month_used)
        headers["x-laneway-limit-monthly-tokens"] = str(limits.monthly_tokens)
        headers["x-laneway-remaining-monthly-tokens"] = str(left)
    return headers


def rate_limited(
    message: str, kind: str, headers: dict[str, str], retry_after: int | None
) -> ApiError:
    """A 429 in OpenAI's shape: type ``requests`` or ``tokens``, code
    ``rate_limit_exceeded``, the limits' headers and ``Retry-After`` when waiting helps."""
    if retry_after is not None:
        headers = {**headers, "Retry-After": str(retry_after)}
    return ApiError(429, message, code="rate_limit_exceeded", error_type=kind, headers=headers)


def _wait(ms: int) -> str:
    return duration(ms) if ms < 60_000 else f"{math.ceil(ms / 1000)}s"


def refusal(key_id: str, limits: Limits, tokens: int, verdict: Verdict, now: float) -> ApiError:
    headers = ratelimit_headers(limits, verdict)
    retry_after = max(1, math.ceil(verdict.wait_ms / 1000))
    who = f"API key {key_id}"
    if verdict.outcome == "requests":
        return rate_limited(
            f"Rate limit reached for {who} on requests per min (RPM): Limit {limits.rpm}, "
            f"Used {limits.rpm}, Requested 1. Please try again in {_wait(verdict.wait_ms)}.",
            "requests",
            headers,
            retry_after,
        )
    if verdict.outcome == "tokens":
        used = (limits.tpm or 0) - max(0, verdict.tokens_left)
        return rate_limited(
            f"Rate limit reached for {who} on tokens per min (TPM): Limit {limits.tpm}, "
            f"Used {used}, Requested {tokens}. Please try again in {_wait(verdict.wait_ms)}. "
            "A request counts its prompt (about 4 characters a token) plus max_tokens.",
            "tokens",
            headers,
            retry_after,
        )
    if verdict.outcome == "too_large":
        # Waiting cannot help, so no Retry-After: the request must get smaller.
        return rate_limited(
            f"Request too large for {who} on tokens per min (TPM): Limit {limits.tpm}, "
            f"Requested {tokens} (its prompt, about 4 characters a token, plus max_tokens). "
            "Shorten the prompt or lower max_tokens.",
            "tokens",
            headers,
            None,
        )
    month, next_month = month_window(now)
    quota = limits.monthly_tokens or 0
    resets = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(next_month))
    if tokens > quota:
        return rate_limited(
            f"Request too large for {who}'s monthly token quota: Limit {quota}, "
            f"Requested {tokens}. Shorten the prompt or lower max_tokens.",
            "tokens",
            headers,
            None,
        )
    return rate_limited(
        f"Monthly token quota reached for {who} ({month}): Limit {quota}, Used "
        f"{verdict.month_used}, Requested {tokens}. The quota renews at {resets}.",
        "tokens",
        headers,
        max(1, math.ceil(next_month - now)),
    )


class RateLimiter:
    def __init__(self, client: aioredis.Redis) -> None:
        self._script = client.register_script(script_source("ratelimit"))

    async def check(
        self, key_id: str, limits: Limits, tokens: int, *, peek: bool = False
    ) -> Verdict:
        """Admit a request that counts ``tokens`` (taking it from every limit) or
        refuse it (taking nothing), in one round trip. ``peek``: only report where
        the limits stand."""
        month, next_month = month_window(time.time())
        reply = await self._script(
            keys=[
                keys.rate_bucket(key_id, "requests"),
                keys.rate_bucket(key_id, "tokens"),
                keys.monthly_tokens(key_id, month),
            ],
            args=[
                limits.rpm or 0,
                limits.tpm or 0,
                limits.monthly_tokens or 0,
                tokens,
                next_month + 7 * 86_400,  # kept a week past the month, to look at
                "1" if peek else "0",
            ],
        )
        outcome, *numbers = reply
        return Verdict(str(outcome), *(int(n) for n in numbers))

    async def admit(self, key_id: str, limits: Limits, tokens: int) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers of an admitted request; a 429
        :class:`~api.errors.ApiError` when a limit refuses it."""
        verdict = await self.check(key_id, limits, tokens)
        if not verdict.admitted:
            raise refusal(key_id, limits, tokens, verdict, time.time())
        return ratelimit_headers(limits, verdict)

    async def headers(self, key_id: str, limits: Limits) -> dict[str, str]:
        """Where a key's limits stand, for answers that take nothing from them."""
        return ratelimit_headers(limits, await self.check(key_id, limits, 0, peek=True))


class RateLimitHeaders:
    """Puts ``x-ratelimit-*`` headers on every answer to a limited key: those its
    admission left in the scope's state (a submit: JSON, a stream or an error), or,
    for any other request, where its limits stand (one more round trip, only then)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = await self._headers(scope)
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    message = {
                        **message,
                        "headers": [
                            *message.get("headers", []),
                            *(
                                (name.encode(), value.encode())
                                for name, value in extra.items()
                                if name.encode() not in present
                            ),
                        ],
                    }
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _headers(self, scope: Scope) -> dict[str, str] | None:
        state = scope.get("state") or {}
        admitted: dict[str, str] | None = state.get(HEADERS_STATE)
        principal = state.get(PRINCIPAL_STATE)
        if admitted is not None or principal is None:
            return admitted
        if principal.key_id is None or not principal.limits.any:
            return None
        limiter: RateLimiter = scope["app"].state.laneway.limiter
        try:
            return await limiter.headers(principal.key_id, principal.limits)
        except RedisError as exc:  # the answer matters more than its headers
            log.warning("rate limit headers unavailable: %r", exc)
            return None


def remember_headers(request: Request, headers: dict[str, str]) -> None:
    setattr(request.state, HEADERS_STATE, headers)


def install(app: FastAPI) -> None:
    app.add_middleware(RateLimitHeaders)
