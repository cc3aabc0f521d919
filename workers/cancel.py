"""Closing a backend call when its job is cancelled.

A cancelled job is final in Redis at once (see ``cancel.lua``), and a message
on ``laneway:cancel`` tells lane workers to stop the call. A blocking httpx
call cannot be interrupted from another thread, but its socket can: the
network backend below remembers which socket each thread last wrote a request
on, and :class:`CancelRegistry` shuts that socket down, so the waiting read
fails at once, whether the backend is still thinking or already streaming.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpcore
import redis

from laneway import keys

log = logging.getLogger(__name__)
# thread id -> the connection that thread last sent a request on
_thread_streams: dict[int, _TrackingStream] = {}


class _TrackingStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _thread_streams[threading.get_ident()] = self  # this thread owns the connection now
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _TrackingStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shutdown(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class TrackingBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _TrackingStream(
            self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _TrackingStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class CallCancelled(Exception):
    """The job was cancelled while its backend call was in progress."""


class CancelToken:
    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.thread = threading.get_ident()


class CancelRegistry:
    """Which thread calls a backend for which job, and stopping those calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, CancelToken] = {}
        # Cancellations that arrived before the call registered (bounded, recent).
        self._early: dict[str, float] = {}

    @contextmanager
    def call(self, job_id: str) -> Iterator[CancelToken]:
        token = CancelToken()
        with self._lock:
            self._calls[job_id] = token
            if self._early.pop(job_id, None) is not None:
                token.cancelled.set()
        try:
            yield token
        finally:
            with self._lock:
                self._calls.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            token = self._calls.get(job_id)
            if token is None:
                now = time.monotonic()
                self._early = {k: t for k, t in self._early.items() if now - t < 300}
                self._early[job_id] = now
                return False
            token.cancelled.set()
            stream = _thread_streams.get(token.thread)
            if stream is not None:
                stream.shutdown()
        return True


class CancelWatcher:
    """Listens on ``laneway:cancel`` and stops the matching calls of this process."""

    def __init__(self, client: redis.Redis, registry: CancelRegistry) -> None:
        self._redis = client
        self._registry = registry
        self._thread = threading.Thread(target=self._run, name="laneway-cancel", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(keys.CANCEL_CHANNEL)
                while True:
                    message = pubsub.get_message(timeout=5.0)
                    if message is None:
                        continue
                    job_id = keys.job_id_of(str(message["data"]))
                    if self._registry.cancel(job_id):
                        log.info("job %s cancelled: closing its backend call", job_id)
            except redis.RedisError as exc:
                log.warning("cancel watcher lost Redis (%s); resubscribing", exc)
                time.sleep(1)
