"""Celery task messages built without a broker connection.

laneway writes a job's state change and the task that continues it in one
atomic Redis script (see :mod:`laneway.store`), so it cannot hand the message
to kombu's producer. This module builds the exact envelope kombu's Redis
transport would push: Celery's own protocol-2 headers and body from
``app.amqp.as_task_v2``, wrapped the way ``kombu.transport.redis`` stores it.
The anonymous exchange makes a restored (unacked) message go back to the queue
named by its routing key, with no binding lookup.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from celery import Celery
from celery.utils.saferepr import saferepr

Priority = Literal["high", "normal", "low"]

# kombu's Redis transport keeps one list per priority step ("<queue>\x06\x16<n>",
# polled after the plain list). Normal traffic stays on the plain list that
# LLEN, Flower and KEDA watch; "high" is pushed to the consuming end of that
# list, "low" goes to a later step.
_PRIORITY_SEP = "\x06\x16"
_LOW_STEP = 6


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    list_key: str
    payload: str
    push: Literal["LPUSH", "RPUSH"]
    task_id: str
    delivery_tag: str

    @property
    def queue(self) -> str:
        """The Celery queue the message joins (its list key without a priority step)."""
        return self.list_key.split(_PRIORITY_SEP, 1)[0]

    def tracking(self) -> dict[str, str]:
        """Job fields that let the lost-message sweeper find this message."""
        return {"message_tag": self.delivery_tag, "message_key": self.list_key}


class MessageFactory:
    def __init__(self, app: Celery) -> None:
        self._amqp = app.amqp
        self._origin = "laneway"
        self._templates: dict[str, Any] = {}

    def _task_message(
        self,
        task_id: str,
        task_name: str,
        args: tuple[Any, ...],
        countdown: float | None,
        argsrepr: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any], Any]:
        """Celery's protocol-2 headers, properties and body for the task.

        ``as_task_v2`` is the source of truth; without a countdown only the id and
        the arguments differ between two messages of a task, so its output is
        kept per task name and copied (a test checks the two stay equal).
        """
        if countdown is not None:
            message = self._amqp.as_task_v2(
                task_id,
                task_name,
                args=args,
                kwargs={},
                countdown=countdown,
                ignore_result=True,
                origin=self._origin,
                argsrepr=argsrepr,
            )
            return message.headers, message.properties, message.body
        template = self._templates.get(task_name)
        if template is None:
            template = self._templates[task_name] = self._amqp.as_task_v2(
                "", task_name, args=(), kwargs={}, ignore_result=True, origin=self._origin
            )
        headers = {
            **template.headers,
            "id": task_id,
            "root_id": task_id,
            "argsrepr": argsrepr if argsrepr is not None else saferepr(args),
        }
        properties = {**template.properties, "correlation_id": task_id}
        return headers, properties, (args, {}, template.body[2])

    def build(
        self,
        task_name: str,
        args: tuple[Any, ...],
        queue: str,
        *,
        priority: Priority = "normal",
        countdown: float | None = None,
        task_id: str | None = None,
        argsrepr: str | None = None,
    ) -> QueuedMessage:
        task_id = task_id or str(uuid.uuid4())
        headers, properties, task_body = self._task_message(
            task_id, task_name, args, countdown, argsrepr
        )
        body = json.dumps(task_body, separators=(",", ":")).encode()
        delivery_tag = str(uuid.uuid4())
        step = _LOW_STEP if priority == "low" else 0
        envelope = {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                **properties,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": step,
                "body_encoding": "base64",
                "delivery_tag": delivery_tag,
            },
        }
        return QueuedMessage(
            list_key=f"{queue}{_PRIORITY_SEP}{step}" if step else queue,
            payload=json.dumps(envelope, separators=(",", ":")),
            push="RPUSH" if priority == "high" else "LPUSH",
            task_id=task_id,
            delivery_tag=delivery_tag,
        )


@dataclass(frozen=True, slots=True)
class WaitingMessage:
    """A task message as it waits in a queue list, read back (see :func:`read_message`)."""

    payload: str
    """The exact stored text: what an ``LREM`` of this message must name."""
    task: str
    args: tuple[Any, ...]
    delivery_tag: str


def read_message(payload: str) -> WaitingMessage | None:
    """The task, arguments and delivery tag of a stored message; None for anything that
    is not a JSON Celery protocol-2 message."""
    try:
        envelope = json.loads(payload)
        body = json.loads(base64.b64decode(envelope["body"]))
        task = envelope["headers"]["task"]
        tag = envelope["properties"]["delivery_tag"]
        args = body[0]
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    if not isinstance(task, str) or not isinstance(tag, str) or not isinstance(args, list):
        return None
    return WaitingMessage(payload, task, tuple(args), tag)


def queue_keys(queue: str) -> list[str]:
    """Every Redis list holding messages of ``queue`` (for depth and purge)."""
    return [queue] + [f"{queue}{_PRIORITY_SEP}{step}" for step in (3, 6, 9)]
