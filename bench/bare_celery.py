"""A bare one-task Celery app: the baseline laneway's overhead is compared with.

``celery -A bare_celery worker`` serves the app configured by the environment:
``BARE_REDIS_URL``, ``BARE_QUEUE`` and ``BARE_TRANSPORT`` (``laneway`` for
laneway's kombu transport, see ``laneway/transport.py``; unset for stock kombu).
"""

from __future__ import annotations

import os

from celery import Celery

LANEWAY_TRANSPORT = "laneway.transport:Transport"


def make_app(redis_url: str, queue: str = "bare", transport: str | None = None) -> Celery:
    app = Celery("bare", broker=redis_url, set_as_current=False)
    app.conf.update(
        result_backend=redis_url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport=transport,
        task_default_queue=queue,
    )

    @app.task(name="bare.echo")  # type: ignore[untyped-decorator]
    def echo(value: str) -> str:
        return value

    return app


app = make_app(
    os.environ.get("BARE_REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("BARE_QUEUE", "bare"),
    LANEWAY_TRANSPORT if os.environ.get("BARE_TRANSPORT") == "laneway" else None,
)
