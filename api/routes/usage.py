"""``GET /v1/usage``: tokens, cost and timings of finished jobs over a time range."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from api.auth import ANONYMOUS
from api.deps import PrincipalDep, StateDep
from api.errors import ApiError
from api.schemas import error_responses
from laneway.usage import HOUR, MAX_HOURS, GroupBy, Totals, hour_range, read_usage_async

router = APIRouter(prefix="/v1/usage", tags=["usage"])

DEFAULT_RANGE_SECONDS = 24 * HOUR


class UsageTotals(BaseModel):
    jobs: int = Field(description="jobs that reached a final state")
    succeeded: int
    failed: int
    cancelled: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated_jobs: int = Field(
        description="jobs whose backend sent no usage: laneway counted their tokens "
        "(about four characters a token)"
    )
    cost: float = Field(description="usage × the backends' price_per_1k_input/output")
    mean_queue_wait_ms: float | None = Field(
        description="submitted to first taken by a lane worker, mean over the jobs that started"
    )
    mean_ttft_ms: float | None = Field(description="time to first token, mean over streamed jobs")
    backend_ms: float = Field(description="time spent in backend calls, failed attempts included")


class UsageGroup(UsageTotals):
    key: str = Field(
        description="the tenant, lane, backend or model (empty: none, e.g. a job "
        "that failed before reaching a backend)"
    )


class UsageReportView(BaseModel):
    object: str = "usage"
    start: int = Field(description="start of the first hour counted (unix seconds)")
    end: int = Field(description="end of the last hour counted (unix seconds, exclusive)")
    group_by: GroupBy | None
    tenant: str | None = Field(description="the tenant counted; null: every tenant")
    total: UsageTotals
    groups: list[UsageGroup] = Field(description="per group_by value, largest cost first")


def _moment(value: object) -> object:
    """Unix seconds (a number, or a string of one) as a UTC datetime; anything else is
    left to pydantic's ISO 8601 parsing."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("must be a finite number of unix seconds")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("is out of range") from None
    return value


Moment = Annotated[
    datetime,
    BeforeValidator(_moment),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]}),
]
"""An ISO 8601 time (UTC unless it says otherwise) or unix seconds."""


def _seconds(value: datetime | None, default: float) -> float:
    if value is None:
        return default
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@router.get("", response_model=UsageReportView, responses=error_responses(401, 422, 500, 503))
async def get_usage(
    state: StateDep,
    principal: PrincipalDep,
    start: Annotated[
        Moment | None,
        Query(description="ISO 8601 time or unix seconds; default: 24 hours before end"),
    ] = None,
    end: Annotated[
        Moment | None,
        Query(description="ISO 8601 time or unix seconds; default: now"),
    ] = None,
    group_by: Annotated[GroupBy | None, Query(description="split the totals by this")] = None,
) -> UsageReportView:
    """Usage of the jobs that finished between ``start`` and ``end``, in whole hours
    (``start`` rounds down to its hour, ``end`` up): jobs, tokens, cost, queue wait,
    time to first token and backend time. With API keys a tenant sees its own usage
    only; without keys, everything. Totals are kept ``usage_retention_days``."""
    until = _seconds(end, time.time())
    since = _seconds(start, until - DEFAULT_RANGE_SECONDS)
    if since >= until:
        raise ApiError(422, "start must be before end", param="start", code="invalid_value")
    if until - since > MAX_HOURS * HOUR or len(hour_range(since, until)) > MAX_HOURS:
        raise ApiError(
            422,
            f"the range spans more than {MAX_HOURS} hours; ask for a shorter one",
            param="start",
            code="invalid_value",
        )
    # Open access (no keys anywhere) is the operator's own system: every tenant.
    tenant = None if principal is ANONYMOUS else principal.tenant
    report = await read_usage_async(state.redis, since, until, group_by, tenant)

    def order(item: tuple[str, Totals]) -> tuple[float, int, str]:
        return (-item[1].cost, -item[1].jobs, item[0])

    return UsageReportView(
        start=report.start,
        end=report.end,
        group_by=group_by,
        tenant=tenant,
        total=UsageTotals(**report.total.view()),
        groups=[
            UsageGroup(key=key, **totals.view())
            for key, totals in sorted(report.groups.items(), key=order)
        ],
    )
