"""Shared resources of the API process and the dependency aliases routes use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request

from api.auth import Authenticator, Principal, presented_key
from api.ratelimit import RateLimiter
from api.request_counts import RequestCounts
from laneway.filestore import FileStorage
from laneway.net import is_loopback
from laneway.settings import Settings
from laneway.store import AsyncJobStore
from producer import AsyncProducer

if TYPE_CHECKING:
    from api.batch.driver import BatchDriver


@dataclass
class ApiState:
    settings: Settings
    redis: aioredis.Redis
    store: AsyncJobStore
    producer: AsyncProducer
    auth: Authenticator
    limiter: RateLimiter
    storage: FileStorage
    """Where the Files API keeps file contents (``batch.storage_url``)."""
    batch_driver: BatchDriver
    request_counts: RequestCounts = field(default_factory=RequestCounts)


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.laneway
    return state


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_principal(request: Request, state: StateDep) -> Principal:
    """The caller (401 when a key is needed and missing, unknown or revoked); kept on
    ``request.state`` for :func:`api.auth.admit`."""
    principal = await state.auth.principal(presented_key(request))
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_tenant(principal: PrincipalDep) -> str:
    return principal.tenant


TenantDep = Annotated[str, Depends(get_tenant)]


def is_public(setting: bool | None, request: Request, host: str) -> bool:
    """Whether a page open by ``setting`` is served without a key. Unset, it is while
    the API listens on loopback only: ``api.host`` is a loopback address, and the
    request did come in on one (proof, whatever the setting says, of where it listens)."""
    if setting is not None:
        return setting
    server = request.scope.get("server")
    return is_loopback(host) and server is not None and is_loopback(str(server[0]))


async def docs_guard(request: Request, state: StateDep) -> None:
    """``/docs``, ``/redoc``, ``/openapi.json``: a key unless ``api.open_docs``."""
    if not is_public(state.settings.api.open_docs, request, state.settings.api.host):
        await get_principal(request, state)


async def metrics_guard(request: Request, state: StateDep) -> None:
    """``/metrics``: a key unless ``api.open_metrics``."""
    if not is_public(state.settings.api.open_metrics, request, state.settings.api.host):
        await get_principal(request, state)
