"""Calling OpenAI-compatible model backends over one shared httpx client."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from laneway.jobs import JobKind
from laneway.requests import estimate_tokens, output_budget, request_text
from laneway.settings import BackendConfig, WorkerConfig
from laneway.usage import estimated_usage
from workers.cancel import CallCancelled, CancelToken, TrackingBackend
from workers.shapes import conform_response
from workers.streaming import Assembly, parse_chunk, sse_data

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
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        self.param = param
        """The request field the backend's error named (OpenAI's ``error.param``)."""

    def __str__(self) -> str:
        code = f"HTTP {self.status_code}: " if self.status_code else ""
        return f"{code}{self.message}"


@dataclass(frozen=True, slots=True)
class BackendReply:
    body: dict[str, Any]
    latency_ms: float
    ttft_ms: float | None = None


def backend_payload(
    request: Mapping[str, Any], backend: BackendConfig, stream: bool
) -> dict[str, Any]:
    payload = {k: v for k, v in request.items() if k not in _LANEWAY_FIELDS}
    payload["model"] = backend.model
    # Older servers (llama.cpp among them) ignore the newer name.
    if "max_completion_tokens" in payload:
        payload.setdefault("max_tokens", payload.pop("max_completion_tokens"))
    payload["stream"] = stream
    if stream:
        payload["stream_options"] = {"include_usage": True}
    else:
        payload.pop("stream_options", None)
    return payload


def _error_message(response: httpx.Response) -> tuple[str, str | None, str | None]:
    """The message, code and param of a backend's error answer."""
    try:
        error = response.json().get("error")
    except ValueError:
        return response.text[:500] or response.reason_phrase, None, None
    if isinstance(error, dict):
        param = error.get("param")
        return (
            str(error.get("message") or error),
            error.get("code"),
            param if isinstance(param, str) else None,
        )
    return str(error or response.text[:500]), None, None


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def classify_failure(response: httpx.Response) -> BackendError:
    """Map a backend's error answer onto the retry taxonomy."""
    message, code, param = _error_message(response)
    status = response.status_code
    if status == 429 or status >= 500 or status == 408:
        delay = retry_after_seconds(response.headers.get("retry-after"))
        return BackendError(ErrorKind.RETRYABLE, message, status, delay)
    lowered = message.lower()
    if code in {"context_length_exceeded", "exceed_context_size_error"} or (
        "context" in lowered and ("length" in lowered or "exceed" in lowered)
    ):
        return BackendError(ErrorKind.CONTEXT_LENGTH, message, status, param=param)
    return BackendError(ErrorKind.FATAL, message, status, param=param)


class BackendClient:
    """One thread-safe connection pool for every backend call of a process."""

    def __init__(self, config: WorkerConfig, max_connections: int) -> None:
        transport = httpx.HTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
        )
        # Lets CancelRegistry shut the socket of a call whose job was cancelled.
        transport._pool._network_backend = TrackingBackend()
        self._transport = transport
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(
                config.read_timeout_seconds, connect=config.connect_timeout_seconds
            ),
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        backend: BackendConfig,
        kind: JobKind,
        request: Mapping[str, Any],
        token: CancelToken | None = None,
        on_chunk: Callable[[dict[str, Any]], None] | None = None,
        deadline: float | None = None,
    ) -> BackendReply:
        """Call the backend; with ``on_chunk`` the answer is streamed chunk by chunk.

        ``deadline`` (a ``time.monotonic()`` value) bounds the whole call, streams
        included: Celery enforces no time limit in the threads pool, and a call that
        outlived Redis's visibility timeout would be handed to a second worker.
        """
        headers = {}
        api_key = backend.api_key()
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        prompt_tokens = estimate_tokens(request_text(request))
        budget = output_budget(request)
        if (
            prompt_tokens >= backend.context_window
            or prompt_tokens + budget > backend.context_window
        ):
            # Some servers answer such a stream with 200 and nothing (llama.cpp): don't ask.
            raise BackendError(
                ErrorKind.CONTEXT_LENGTH,
                f"the prompt (~{prompt_tokens} tokens) plus max_tokens ({budget}) exceeds "
                f"{backend.name}'s context window of {backend.context_window} tokens",
            )
        started = time.perf_counter()
        url = backend.base_url + kind.path
        payload = backend_payload(request, backend, stream=on_chunk is not None)
        timeout = self._http.timeout
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendError(ErrorKind.RETRYABLE, "no time left for another call")
            read = min(timeout.read or remaining, remaining)
            timeout = httpx.Timeout(read, connect=min(timeout.connect or read, read))
        try:
            if on_chunk is None:
                body = conform_response(
                    kind, self._post(url, payload, headers, timeout), backend.model
                )
                if "usage" not in body:  # counted by laneway, as for streams without any
                    body["usage"] = estimated_usage(request, body)
                ttft = None
            else:
                body, ttft = self._stream(
                    url,
                    payload,
                    headers,
                    backend,
                    kind,
                    request,
                    token,
                    on_chunk,
                    deadline,
                    timeout,
                )
        except httpx.TimeoutException as exc:
            self._raise_if_cancelled(token)
            raise BackendError(ErrorKind.RETRYABLE, f"timeout: {exc!r}") from exc
        except httpx.TransportError as exc:
            self._raise_if_cancelled(token)
            raise BackendError(ErrorKind.RETRYABLE, f"connection failed: {exc!r}") from exc
        self._raise_if_cancelled(token)
        elapsed = (time.perf_counter() - started) * 1000
        return BackendReply(body, elapsed, ttft)

    def _post(
        self, url: str, payload: dict[str, Any], headers: dict[str, str], timeout: httpx.Timeout
    ) -> dict[str, Any]:
        # Straight to the transport: a backend call needs none of the client's
        # cookie, redirect, auth or base-URL handling, which cost more CPU than
        # the rest of the call on a fast backend.
        request = httpx.Request(
            "POST", url, json=payload, headers=headers, extensions={"timeout": timeout.as_dict()}
        )
        response = self._transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return self._json_body(response)

    @staticmethod
    def _raise_if_cancelled(token: CancelToken | None) -> None:
        if token is not None and token.cancelled.is_set():
            raise CallCancelled()

    @staticmethod
    def _json_body(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise classify_failure(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise BackendError(
                ErrorKind.RETRYABLE, "backend answered 200 with a body that is not JSON", 200
            ) from exc
        if not isinstance(body, dict):
            raise BackendError(ErrorKind.RETRYABLE, "backend answered 200 with a non-object", 200)
        return body

    def _stream(
        self,
        url: str,
        payload: dict[str, Any],
        headers: dict[str, str],
        backend: BackendConfig,
        kind: JobKind,
        request: Mapping[str, Any],
        token: CancelToken | None,
        on_chunk: Callable[[dict[str, Any]], None],
        deadline: float | None,
        timeout: httpx.Timeout,
    ) -> tuple[dict[str, Any], float | None]:
        started = time.time()
        assembly = Assembly(kind, backend.model)
        with self._http.stream(
            "POST", url, json=payload, headers=headers, timeout=timeout
        ) as response:
            if response.status_code != 200:
                response.read()
                raise classify_failure(response)
            done = False
            for data in sse_data(response.iter_lines()):
                if data == "[DONE]":
                    done = True
                    break
                chunk = parse_chunk(data)
                if chunk is None:
                    continue
                visible = assembly.add(chunk)
                if visible is not None:
                    on_chunk(visible)
                self._raise_if_cancelled(token)
                if deadline is not None and time.monotonic() > deadline:
                    raise BackendError(
                        ErrorKind.RETRYABLE, "the stream outlasted the task's time limit"
                    )
            if not done:
                raise BackendError(
                    ErrorKind.RETRYABLE, "the backend closed the stream before [DONE]", 200
                )
        ttft = None
        if assembly.first_token_at is not None:
            ttft = (assembly.first_token_at - started) * 1000
        body = assembly.response(dict(request))
        return body, ttft
