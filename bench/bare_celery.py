"""A bare one-task Celery app: the baseline laneway's overhead is compared with."""

from __future__ import annotations

import os

from celery import Celery

app = Celery("bare", broker=os.environ.get("BARE_REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    result_backend=os.environ.get("BARE_REDIS_URL", "redis://127.0.0.1:6379/0"),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_default_queue="bare",
    broker_connection_retry_on_startup=True,
)


@app.task(name="bare.echo")
def echo(value: str) -> str:
    return value
