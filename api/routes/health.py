"""Liveness and readiness."""

from __future__ import annotations

from typing import Any, cast

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from laneway import keys
from laneway.heartbeat import live_roles
from laneway.lanes import LANES

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The API process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: StateDep) -> JSONResponse:
    """Redis answers and the classifier and every lane have a live worker."""
    checks: dict[str, Any] = {}
    try:
        await state.redis.ping()
        checks["redis"] = "ok"
        raw = await state.redis.hgetall(keys.WORKER_HEARTBEAT)
        roles = live_roles(cast(dict[str, str], raw))
    except aioredis.RedisError as exc:
        checks["redis"] = f"unreachable: {exc}"
        roles = {}
    for role in ("classify", *LANES):
        checks[f"workers:{role}"] = roles.get(role, 0)
    ready = checks["redis"] == "ok" and all(roles.get(r, 0) > 0 for r in ("classify", *LANES))
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
