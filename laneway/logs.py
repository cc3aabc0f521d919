"""Log lines: plain text or one JSON object a line, tagged with the job they are about.

A worker binds the job it is running (``job_context`` around a task, ``bind_job`` once
the backend and tenant are known) in a context variable: every line logged in that
task's thread carries ``job_id``, ``lane``, ``backend`` and ``tenant``, whichever module
logs it. Secrets the process holds (backend and API keys from the environment) are
masked in every line, whatever the format.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from laneway.settings import Settings

LogFormat = Literal["text", "json"]
JOB_FIELDS = ("job_id", "lane", "backend", "tenant")
MASK = "***"
TEXT_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"

_FIRST_ARGUMENT = re.compile(r"^\(\s*'(job_[0-9a-f]+)'")
"""A laneway task's first argument, the job id, in Celery's repr of its arguments."""

_job: ContextVar[dict[str, str | None] | None] = ContextVar("laneway_job", default=None)


def enter_job(job_id: str, lane: str | None = None) -> Token[dict[str, str | None] | None]:
    """Lines logged from here in this thread are about ``job_id``, until ``leave_job``."""
    return _job.set(dict.fromkeys(JOB_FIELDS) | {"job_id": job_id, "lane": lane})


def leave_job(token: Token[dict[str, str | None] | None]) -> None:
    _job.reset(token)


@contextmanager
def job_context(job_id: str, lane: str | None = None) -> Iterator[None]:
    """Lines logged inside are about ``job_id`` (in this thread)."""
    token = enter_job(job_id, lane)
    try:
        yield
    finally:
        leave_job(token)


def bind_job(**fields: str | None) -> None:
    """Add what became known about the current job (its backend, tenant, lane)."""
    current = _job.get()
    if current is not None:
        _job.set(current | {k: v for k, v in fields.items() if k in JOB_FIELDS})


def current_job() -> dict[str, str | None] | None:
    return _job.get()


class JobFields(logging.Filter):
    """Puts the current job's fields on each record (a JSON formatter prints them).

    Celery logs a task's arrival from the consumer thread, outside any task: its record
    holds the task's arguments (``data["args"]``), whose first is the job id; the lane is
    the worker's. Backend and tenant are not known before the task reads the job."""

    def __init__(self, lane: str | None = None) -> None:
        super().__init__()
        self.lane = lane

    def filter(self, record: logging.LogRecord) -> bool:
        job = _job.get() or self.received(record)
        if job is not None:
            for name, value in job.items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True

    def received(self, record: logging.LogRecord) -> dict[str, str | None] | None:
        data = getattr(record, "data", None)
        if not isinstance(data, dict) or not isinstance(data.get("args"), str):
            return None
        first = _FIRST_ARGUMENT.match(data["args"])
        if first is None:
            return None
        return dict.fromkeys(JOB_FIELDS) | {"job_id": first.group(1), "lane": self.lane}


class MaskSecrets(logging.Filter):
    """Replaces every occurrence of a secret in a record's message and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # longest first: a secret containing another is masked whole
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The secret values this process could log: backend keys, the classifier LLM's
    key and the API keys (``key:tenant`` pairs), all read from the environment."""
    names = [b.api_key_env for lane in settings.lanes.values() for b in lane.backends]
    names.append(settings.classifier.llm_api_key_env)
    values = [os.environ.get(name, "") for name in names if name]
    for pair in os.environ.get(settings.api.api_keys_env, "").split(","):
        values.append(pair.rpartition(":")[0] or pair)
    return [v.strip() for v in values if v.strip()]


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "processName": "process"},
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def add_filters(handler: logging.Handler, secrets: Iterable[str], lane: str | None = None) -> None:
    handler.addFilter(JobFields(lane))
    handler.addFilter(MaskSecrets(secrets))


def configure(
    log_format: LogFormat, level: str | int, secrets: Iterable[str], lane: str | None = None
) -> None:
    """Send the root logger's lines to stderr in ``log_format``, with job fields (``lane``:
    the worker's) and secrets masked; warnings too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    add_filters(handler, secrets, lane)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)


def uvicorn_log_config(log_format: LogFormat, level: str, secrets: Iterable[str]) -> dict[str, Any]:
    """uvicorn's ``log_config``: its loggers and laneway's through one handler in
    ``log_format``, secrets masked."""
    formatter_config: dict[str, Any] = (
        {
            "()": JsonFormatter,
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level"},
        }
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter_config},
        "filters": {
            "job": {"()": JobFields},
            "secrets": {"()": MaskSecrets, "secrets": list(secrets)},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["job", "secrets"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
        },
    }
