"""Per-process resources shared by the tasks of a worker process."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import cast

import redis
from celery import Celery

from laneway.backpressure import queue_limits
from laneway.redis_server import client_options
from laneway.settings import Settings
from laneway.store import JobStore
from laneway.wire import MessageFactory


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    store: JobStore
    messages: MessageFactory


_lock = threading.Lock()
_runtimes: dict[int, Runtime] = {}


def runtime_for(app: Celery) -> Runtime:
    """The process's runtime for ``app``, created on first use (after any fork)."""
    found = _runtimes.get(id(app))
    if found is not None:
        return found
    with _lock:
        found = _runtimes.get(id(app))
        if found is None:
            settings = cast(Settings, app.laneway_settings)
            client = redis.Redis.from_url(settings.redis_url, **client_options())
            found = Runtime(
                settings=settings,
                redis=client,
                store=JobStore(client, settings.job_ttl_seconds, queue_limits(settings)),
                messages=MessageFactory(app),
            )
            _runtimes[id(app)] = found
        return found
