"""Who is calling, and what their API key lets them submit.

A key is presented as ``Authorization: Bearer <key>`` (as with OpenAI) or
``x-api-key``. Keys from the environment map to a tenant with no limits; keys made
with ``laneway keys create`` are stored hashed in Redis with their tenant, lanes and
limits. Once any key exists (in the environment, or ever stored) every request needs
one; with none at all the API is open (and ``laneway api`` keeps it on loopback).
Keys are never logged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from fastapi import Request

from api.errors import ApiError
from api.ratelimit import RateLimiter, remember_headers
from laneway.apikeys import DEFAULT_TENANT, AsyncKeyStore, KeyRing, Limits
from laneway.lanes import Lane
from laneway.requests import context_needed
from producer import Submission

__all__ = ["DEFAULT_TENANT", "Authenticator", "KeyRing", "Principal", "admit"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request was authenticated as."""

    tenant: str
    key_id: str | None = None
    """The stored key used; ``None`` for environment keys and open access."""
    lanes: tuple[Lane, ...] | None = None
    """The lanes the key may use; ``None``: all."""
    limits: Limits = field(default_factory=Limits)


ANONYMOUS = Principal(DEFAULT_TENANT)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def presented_key(request: Request) -> str | None:
    presented = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    if not presented and authorization[:7].lower() == "bearer ":
        presented = authorization[7:].strip()
    return presented or None


@dataclass(frozen=True)
class Authenticator:
    ring: KeyRing
    stored: AsyncKeyStore

    async def principal(self, presented: str | None) -> Principal:
        """The caller, or 401 (missing, unknown or revoked key while keys exist)."""
        if presented:
            tenant = self.ring.tenant_for(presented)
            if tenant is not None:
                return Principal(tenant)
            found = await self.stored.lookup(presented)
            if found.record is not None:
                if not found.record.active:
                    raise _unauthorized("this API key was revoked")
                return Principal(
                    found.record.tenant, found.record.id, found.record.lanes, found.record.limits
                )
            keys_exist = self.ring.enabled or found.keys_exist
        else:
            keys_exist = self.ring.enabled or await self.stored.any_created()
        if keys_exist:
            raise _unauthorized("missing or invalid API key (send 'Authorization: Bearer <key>')")
        return ANONYMOUS


async def admit(request: Request, submission: Submission) -> Submission:
    """Let a submission through its key's lanes and limits, before anything is written.

    A lane the key may not use, forced by ``route`` or a model name, is refused with
    403; over a limit, 429. The submission comes
    back carrying the key's lanes, so the classifier keeps the job inside them.
    """
    principal: Principal = request.state.principal
    if principal.lanes is not None:
        lane = submission.route
        if lane is not None and lane not in principal.lanes:
            raise ApiError(
                403,
                f"this API key may not use the {lane} lane (it may use "
                f"{', '.join(principal.lanes)})",
                code="lane_not_allowed",
            )
        submission = dataclasses.replace(submission, lanes=principal.lanes)
    if principal.key_id is not None and principal.limits.any:
        limiter: RateLimiter = request.app.state.laneway.limiter
        headers = await limiter.admit(
            principal.key_id, principal.limits, context_needed(submission.request)
        )
        remember_headers(request, headers)
    return submission
