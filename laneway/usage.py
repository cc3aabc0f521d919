"""Usage accounting: what each job used, and totals over a time range.

Each finished job adds to one Redis hash per hour (``laneway:usage:<hour>``, written
by ``account_usage`` in ``common.lua``, in the script that finishes the job), with
fields ``tenant|lane|backend|model|measure``. The hashes expire
``usage_retention_days`` after their hour. Reading a range is one pipelined
``HGETALL`` per hour, so ranges are whole hours: ``start`` rounds down to its hour,
``end`` up.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import redis
import redis.asyncio as aioredis

from laneway import keys
from laneway.requests import Request, estimate_tokens, request_text

HOUR = 3600
GroupBy = Literal["tenant", "lane", "backend", "model"]
GROUPS: tuple[GroupBy, ...] = get_args(GroupBy)
DIMENSIONS = ("tenant", "lane", "backend", "model")
"""The parts of a stored field before its measure (``tenant|lane|backend|model|measure``)."""


def estimated_usage(request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
    """Usage counted by laneway for an answer that came without any: about four
    characters a token, prompt and output text alike, marked ``estimated``."""
    prompt = estimate_tokens(request_text(request))
    completion = estimate_tokens(_answer_text(body))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "estimated": True,
    }


def _answer_text(body: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for choice in body.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if isinstance(message, dict):
            for name in ("content", "refusal"):
                if isinstance(message.get(name), str):
                    parts.append(message[name])
            for call in message.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    parts.append(str(function.get("name") or ""))
                    parts.append(str(function.get("arguments") or ""))
        elif isinstance(choice.get("text"), str):
            parts.append(choice["text"])
    return "".join(parts)


@dataclass
class Totals:
    """Sums over jobs, as kept in the hourly hashes (integers: cost in 1e-8 units,
    durations in microseconds)."""

    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: int = 0
    """Jobs whose tokens laneway counted because the backend sent no usage."""
    cost_e8: int = 0
    queue_wait_us: int = 0
    started: int = 0
    """Jobs a lane worker took (those with a queue wait)."""
    ttft_us: int = 0
    streamed: int = 0
    """Jobs with a time to first token."""
    backend_us: int = 0

    @property
    def jobs(self) -> int:
        return self.succeeded + self.failed + self.cancelled

    @property
    def cost(self) -> float:
        return self.cost_e8 / 1e8

    def add(self, measure: str, value: str) -> None:
        if measure in self.__dataclass_fields__:
            setattr(self, measure, getattr(self, measure) + int(value))
        # else a measure of a later version: not ours to sum

    def merge(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def view(self) -> dict[str, Any]:
        """The JSON shape of ``GET /v1/usage`` (means instead of sums of durations)."""

        def mean_ms(total_us: int, count: int) -> float | None:
            return round(total_us / count / 1000, 2) if count else None

        return {
            "jobs": self.jobs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "estimated_jobs": self.estimated,
            "cost": round(self.cost, 8),
            "mean_queue_wait_ms": mean_ms(self.queue_wait_us, self.started),
            "mean_ttft_ms": mean_ms(self.ttft_us, self.streamed),
            "backend_ms": round(self.backend_us / 1000, 2),
        }


@dataclass
class UsageReport:
    start: int
    """First hour included (unix seconds)."""
    end: int
    """End of the last hour included (exclusive)."""
    group_by: GroupBy | None
    groups: dict[str, Totals] = field(default_factory=dict)
    total: Totals = field(default_factory=Totals)


def hour_range(start: float, end: float) -> range:
    """The hours (their first second) that cover ``[start, end)``."""
    first = math.floor(start / HOUR) * HOUR
    last = math.ceil(end / HOUR) * HOUR
    return range(first, max(last, first + HOUR), HOUR)


def hour_keys(hours: Iterable[int]) -> list[str]:
    return [keys.usage_hour(hour) for hour in hours]


def aggregate(
    hashes: Iterable[Mapping[str, str]],
    hours: range,
    group_by: GroupBy | None,
    tenant: str | None,
) -> UsageReport:
    """Sum the hourly hashes; only ``tenant``'s fields when given."""
    report = UsageReport(hours.start, hours.stop, group_by)
    where = DIMENSIONS.index(group_by) if group_by else None
    for raw in hashes:
        for name, value in raw.items():
            parts = name.split("|")
            if len(parts) != len(DIMENSIONS) + 1:
                continue
            if tenant is not None and parts[0] != tenant:
                continue
            report.total.add(parts[-1], value)
            if where is not None:
                report.groups.setdefault(parts[where], Totals()).add(parts[-1], value)
    return report


MAX_HOURS = 24 * 366
"""The longest range one query may read (one HGETALL an hour)."""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": HOUR, "d": 86400, "w": 7 * 86400}


def parse_since(text: str) -> float:
    """Seconds in a duration like ``90m``, ``24h``, ``7d``, ``2w``; ValueError otherwise."""
    found = _DURATION.match(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h, 7d or 2w")
    return float(found.group(1)) * _UNIT[found.group(2)]


def read_usage(
    client: redis.Redis,
    start: float,
    end: float | None = None,
    group_by: GroupBy | None = None,
    tenant: str | None = None,
) -> UsageReport:
    """Usage totals of jobs that finished in ``[start, end)`` (whole hours)."""
    hours = hour_range(start, time.time() if end is None else end)
    pipe = client.pipeline(transaction=False)
    for key in hour_keys(hours):
        pipe.hgetall(key)
    return aggregate(pipe.execute(), hours, group_by, tenant)


async def read_usage_async(
    client: aioredis.Redis,
    start: float,
    end: float,
    group_by: GroupBy | None = None,
    tenant: str | None = None,
) -> UsageReport:
    hours = hour_range(start, end)
    async with client.pipeline(transaction=False) as pipe:
        for key in hour_keys(hours):
            pipe.hgetall(key)
        replies = await pipe.execute()
    return aggregate(replies, hours, group_by, tenant)
