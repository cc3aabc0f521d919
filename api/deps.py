"""Shared resources of the API process and the dependency aliases routes use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request

from api.auth import DEFAULT_TENANT, KeyRing
from api.errors import ApiError
from laneway.settings import Settings
from laneway.store import AsyncJobStore
from producer import AsyncProducer


@dataclass
class ApiState:
    settings: Settings
    redis: aioredis.Redis
    store: AsyncJobStore
    producer: AsyncProducer
    keyring: KeyRing


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.laneway
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_tenant(request: Request, state: StateDep) -> str:
    if not state.keyring.enabled:
        return DEFAULT_TENANT
    presented = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    if not presented and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    tenant = state.keyring.tenant_for(presented) if presented else None
    if tenant is None:
        raise ApiError(
            401,
            "missing or invalid API key (send 'Authorization: Bearer <key>')",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return tenant


TenantDep = Annotated[str, Depends(get_tenant)]
