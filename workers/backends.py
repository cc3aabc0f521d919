"""Calling OpenAI-compatible model backends over one shared httpx client."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from laneway.jobs import JobKind
from laneway.settings import BackendConfig, WorkerConfig

# Fields of a laneway job request that are ours, not the backend's.
_LANEWAY_FIELDS = frozenset({"route", "priority", "idempotency_key"})


class ErrorKind(StrEnum):
    RETRYABLE = "retryable"
    FATAL = "fatal"
    CONTEXT_LENGTH = "context_length"


class BackendError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after

    def __str__(self) -> str:
        code = f"HTTP {self.status_code}: " if self.status_code else ""
        return f"{code}{self.message}"


@dataclass(frozen=True, slots=True)
class BackendReply:
    body: dict[str, Any]
    latency_ms: float


def backend_payload(request: Mapping[str, Any], backend: BackendConfig) -> dict[str, Any]:
    payload = {k: v for k, v in request.items() if k not in _LANEWAY_FIELDS}
    payload["model"] = backend.model
    payload["stream"] = False
    payload.pop("stream_options", None)
    return payload


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    try:
        error = response.json().get("error")
    except ValueError:
        return response.text[:500] or response.reason_phrase, None
    if isinstance(error, dict):
        return str(error.get("message") or error), error.get("code")
    return str(error or response.text[:500]), None


def classify_failure(response: httpx.Response) -> BackendError:
    """Map a backend's error answer onto the retry taxonomy."""
    message, code = _error_message(response)
    status = response.status_code
    if status == 429 or status >= 500 or status == 408:
        retry_after = response.headers.get("retry-after")
        delay = float(retry_after) if retry_after and retry_after.isdigit() else None
        return BackendError(ErrorKind.RETRYABLE, message, status, delay)
    lowered = message.lower()
    if code in {"context_length_exceeded", "exceed_context_size_error"} or (
        "context" in lowered and ("length" in lowered or "exceed" in lowered)
    ):
        return BackendError(ErrorKind.CONTEXT_LENGTH, message, status)
    return BackendError(ErrorKind.FATAL, message, status)


class BackendClient:
    """One thread-safe connection pool for every backend call of a process."""

    def __init__(self, config: WorkerConfig, max_connections: int) -> None:
        self._http = httpx.Client(
            timeout=httpx.Timeout(
                config.read_timeout_seconds, connect=config.connect_timeout_seconds
            ),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self, backend: BackendConfig, kind: JobKind, request: Mapping[str, Any]
    ) -> BackendReply:
        headers = {}
        api_key = backend.api_key()
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        started = time.perf_counter()
        try:
            response = self._http.post(
                backend.base_url + kind.path,
                json=backend_payload(request, backend),
                headers=headers,
            )
        except httpx.TimeoutException as exc:
            raise BackendError(ErrorKind.RETRYABLE, f"timeout: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise BackendError(ErrorKind.RETRYABLE, f"connection failed: {exc!r}") from exc
        if response.status_code != 200:
            raise classify_failure(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise BackendError(
                ErrorKind.RETRYABLE, "backend answered 200 with a body that is not JSON", 200
            ) from exc
        return BackendReply(body, (time.perf_counter() - started) * 1000)


class Balancer:
    """Least in-flight calls per unit of weight, among this process's calls.

    With prefetch 1 and acks_late, Celery already hands each job to the least
    busy worker; this spreads one worker's calls over the lane's backends.
    """

    def __init__(self, backends: list[BackendConfig]) -> None:
        self.backends = backends
        self._in_flight = {b.name: 0 for b in backends}
        self._lock = threading.Lock()

    def choose(self, exclude: frozenset[str] = frozenset()) -> BackendConfig | None:
        with self._lock:
            candidates = [b for b in self.backends if b.name not in exclude]
            if not candidates:
                return None
            best = min(self._in_flight[b.name] / b.weight for b in candidates)
            ties = [b for b in candidates if self._in_flight[b.name] / b.weight == best]
            return random.choice(ties)

    @contextmanager
    def using(self, backend: BackendConfig) -> Iterator[None]:
        with self._lock:
            self._in_flight[backend.name] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[backend.name] -= 1
