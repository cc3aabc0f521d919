"""Shared Redis cache of classifications, with single-flight for identical requests.

The key is a hash of the normalised request: message roles + content (or the prompt)
and only the fields that can change the label (max_tokens, max_completion_tokens,
whether tools are present, the response_format type). Fallback decisions are never
cached. When several workers see the same request at once, one takes a short lock
(``SET key:lock NX PX``) and classifies; the others wait a bounded time for its result
(``wait_seconds``, and never past the caller's deadline) and classify themselves if it
does not come. An owner that ends without a cacheable decision (a fallback, an error, a
timeout) releases the lock, and a waiter that sees the lock gone stops waiting at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from classifier.strategies.base import Decision, Request
from laneway.lanes import parse_lane

log = logging.getLogger(__name__)

PREFIX = "laneway:clf:"
FALLBACK_STRATEGY = "fallback"


def _content(content: Any) -> Any:
    if isinstance(content, list):
        return [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
    return content if isinstance(content, str) else ""


def normalise(request: Request) -> dict[str, Any]:
    messages = request.get("messages")
    response_format = request.get("response_format")
    return {
        "messages": [
            [str(m.get("role", "")), _content(m.get("content"))]
            for m in messages
            if isinstance(m, dict)
        ]
        if isinstance(messages, list)
        else None,
        "prompt": request.get("prompt"),
        "max_tokens": request.get("max_tokens"),
        "max_completion_tokens": request.get("max_completion_tokens"),
        "tools": bool(request.get("tools") or request.get("functions")),
        "response_format": response_format.get("type")
        if isinstance(response_format, dict)
        else None,
    }


def request_key(request: Request, namespace: str = "") -> str:
    """Cache key of ``request``; ``namespace`` separates strategies/configurations."""
    blob = json.dumps(normalise(request), sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(f"{namespace}\0{blob}".encode()).hexdigest()[:32]
    return f"{PREFIX}{digest}"


def _dump(decision: Decision) -> str:
    return json.dumps(
        {
            "lane": decision.lane,
            "confidence": decision.confidence,
            "reason": decision.reason,
            "strategy": decision.strategy,
        }
    )


def _load(raw: bytes | str) -> Decision:
    data = json.loads(raw)
    return Decision(
        parse_lane(data["lane"]),
        float(data["confidence"]),
        str(data["reason"]),
        str(data["strategy"]),
    )


class ClassificationCache:
    def __init__(
        self,
        client: redis.Redis,
        ttl_seconds: int = 3600,
        namespace: str = "",
        lock_ms: int = 2000,
        wait_seconds: float = 0.5,
        poll_seconds: float = 0.005,
    ) -> None:
        self.redis = client
        self.ttl = ttl_seconds
        self.namespace = namespace
        self.lock_ms = lock_ms
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> ClassificationCache:
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, **kwargs)

    def key(self, request: Request) -> str:
        return request_key(request, self.namespace)

    def get(self, request: Request) -> Decision | None:
        raw = self.redis.get(self.key(request))
        return _load(raw) if raw is not None else None

    def put(self, request: Request, decision: Decision) -> None:
        if decision.strategy == FALLBACK_STRATEGY or self.ttl <= 0:
            return
        self.redis.set(self.key(request), _dump(decision), ex=self.ttl)

    def _wait(self, key: str, lock: str, deadline: float | None) -> bytes | None:
        """Poll for the lock owner's result until it comes, the owner gives up (the lock
        is gone), ``wait_seconds`` pass or ``deadline`` (``time.monotonic()``) does."""
        until = time.monotonic() + self.wait_seconds
        if deadline is not None:
            until = min(until, deadline)
        while time.monotonic() < until:
            time.sleep(self.poll_seconds)
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(key)
            pipe.exists(lock)
            raw, locked = pipe.execute()
            if raw is not None:
                return cast(bytes, raw)
            if not locked:
                return None
        return None

    def get_or_compute(
        self,
        request: Request,
        compute: Callable[[Request], Decision],
        deadline: float | None = None,
    ) -> tuple[Decision, bool]:
        """``(decision, hit)``; concurrent identical requests compute once (bounded wait,
        never past ``deadline``, a ``time.monotonic()`` value). An exception from
        ``compute`` (e.g. a timeout) propagates; nothing is cached and the lock is freed."""
        key = self.key(request)
        lock = key + ":lock"
        owner = False
        try:
            raw = self.redis.get(key)
            if raw is not None:
                return _load(raw), True
            owner = bool(self.redis.set(lock, b"1", nx=True, px=self.lock_ms))
            if not owner:
                raw = self._wait(key, lock, deadline)
                if raw is not None:
                    return _load(raw), True
        except redis.RedisError as exc:
            log.warning("classification cache unavailable: %s", exc)
            return compute(request), False
        try:
            decision = compute(request)
        except BaseException:
            if owner:
                try:
                    self.redis.delete(lock)
                except redis.RedisError as exc:
                    log.warning("could not release the classification lock: %s", exc)
            raise
        try:
            if decision.strategy != FALLBACK_STRATEGY and self.ttl > 0:
                pipe = self.redis.pipeline()
                pipe.set(key, _dump(decision), ex=self.ttl)
                pipe.delete(lock)
                pipe.execute()
            else:
                self.redis.delete(lock)
        except redis.RedisError as exc:
            log.warning("could not write classification cache: %s", exc)
        return decision, False
