"""API keys: the ones an operator puts in the environment, and the ones ``laneway keys
create`` stores in Redis with their limits.

A stored key is a random secret shown once; Redis keeps only its SHA-256 (the secret
has 192 bits of entropy, so a plain hash cannot be reversed), found again by hashing
the key a client presents. Nothing here logs or stores a key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import redis
import redis.asyncio as aioredis

from laneway import keys
from laneway.lanes import LANES, Lane, parse_lane
from laneway.store import script_source

DEFAULT_TENANT = "default"
KEY_PREFIX = "lw-"
SHOWN_PREFIX = len(KEY_PREFIX) + 6
"""Characters of a stored key ``keys list`` shows, enough to tell keys apart."""
TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


class ApiKeyError(ValueError):
    """A malformed key entry or key option; the message never contains a key."""


def check_tenant(tenant: str) -> str:
    if not TENANT.fullmatch(tenant):
        raise ApiKeyError(
            f"tenant {tenant!r} is not a valid name (letters, digits and . _ @ -, "
            "starting with a letter or digit)"
        )
    return tenant


@dataclass(frozen=True)
class KeyRing:
    """Keys from the environment: ``key:tenant,key:tenant`` (a bare key maps to the
    default tenant). They have no limits and reach every lane."""

    keys: tuple[tuple[str, str], ...]
    """(key, tenant) pairs."""

    @classmethod
    def parse(cls, text: str, source: str = "the key list") -> KeyRing:
        """The ring ``text`` describes; :class:`ApiKeyError` for an empty entry, a key
        with whitespace in it or a key given twice. Only a blank ``text`` means no keys."""
        if not text.strip():
            return cls(())
        pairs: list[tuple[str, str]] = []
        seen: dict[str, int] = {}
        for position, item in enumerate(text.split(","), start=1):
            key, _, tenant = item.strip().partition(":")
            where = f"{source}: entry {position}"
            if not key:
                raise ApiKeyError(f"{where} has no key (is there a stray comma or colon?)")
            if any(c.isspace() for c in key):
                raise ApiKeyError(f"{where}: the key contains whitespace")
            if key in seen:
                raise ApiKeyError(f"{where} repeats the key of entry {seen[key]}")
            seen[key] = position
            try:
                tenant = check_tenant(tenant.strip() or DEFAULT_TENANT)
            except ApiKeyError as exc:
                raise ApiKeyError(f"{where}: {exc}") from None
            pairs.append((key, tenant))
        return cls(tuple(pairs))

    @classmethod
    def from_env(cls, variable: str) -> KeyRing:
        return cls.parse(os.environ.get(variable, ""), variable)

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def tenant_for(self, presented: str) -> str | None:
        found = None
        for key, tenant in self.keys:
            # compare every key so that timing does not reveal which one matched
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = tenant
        return found

    def __repr__(self) -> str:
        return f"KeyRing({len(self.keys)} keys)"


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-key limits; ``None`` means no limit."""

    rpm: int | None = None
    """Requests per minute."""
    tpm: int | None = None
    """Tokens per minute: prompt estimate plus max_tokens, counted at admission."""
    monthly_tokens: int | None = None
    """Tokens per calendar month (UTC), counted like ``tpm``."""

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.rpm, self.tpm, self.monthly_tokens))

    def describe(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("rpm", self.rpm),
                ("tpm", self.tpm),
                ("monthly tokens", self.monthly_tokens),
            )
            if value is not None
        ]
        return ", ".join(parts) or "no limits"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What Redis keeps about a key created with ``laneway keys create``."""

    id: str
    tenant: str
    prefix: str
    """The key's first characters, to recognise it; never the whole key."""
    lanes: tuple[Lane, ...] | None
    """The lanes it may use; ``None``: all."""
    limits: Limits
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_redis(cls, raw: Mapping[str, str]) -> StoredKey:
        def number(name: str) -> int | None:
            value = raw.get(name)
            return int(value) if value else None

        def moment(name: str) -> float | None:
            value = raw.get(name)
            return float(value) if value else None

        lanes = raw.get("lanes")
        return cls(
            id=raw["id"],
            tenant=raw["tenant"],
            prefix=raw.get("prefix", ""),
            lanes=tuple(parse_lane(lane) for lane in lanes.split(",")) if lanes else None,
            limits=Limits(number("rpm"), number("tpm"), number("monthly_tokens")),
            created_at=float(raw["created_at"]),
            last_used_at=moment("last_used_at"),
            revoked_at=moment("revoked_at"),
        )

    def to_redis(self, digest: str) -> dict[str, str]:
        fields = {
            "id": self.id,
            "digest": digest,
            "tenant": self.tenant,
            "prefix": self.prefix,
            "lanes": ",".join(self.lanes) if self.lanes else "",
            "rpm": self.limits.rpm,
            "tpm": self.limits.tpm,
            "monthly_tokens": self.limits.monthly_tokens,
            "created_at": self.created_at,
        }
        return {name: str(value) for name, value in fields.items() if value is not None}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh secret: the prefix and 48 hex digits (192 random bits from ``secrets``)."""
    return KEY_PREFIX + secrets.token_hex(24)


def new_key_id() -> str:
    return f"key_{secrets.token_hex(6)}"


def check_lanes(lanes: list[str] | None) -> tuple[Lane, ...] | None:
    """The lanes in a fixed order, or ``None`` for all of them."""
    if not lanes:
        return None
    wanted = set()
    for item in lanes:
        for name in item.split(","):
            if name.strip():
                try:
                    wanted.add(parse_lane(name.strip()))
                except ValueError as exc:
                    raise ApiKeyError(str(exc)) from None
    return tuple(lane for lane in LANES if lane in wanted) or None


class KeyStore:
    """Stored keys, for the ``laneway keys`` commands (blocking Redis client)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def create(
        self, tenant: str, lanes: tuple[Lane, ...] | None, limits: Limits
    ) -> tuple[str, StoredKey]:
        """A new key and its record; the key is returned once and never stored."""
        check_tenant(tenant)
        for name, value in (
            ("rpm", limits.rpm),
            ("tpm", limits.tpm),
            ("monthly tokens", limits.monthly_tokens),
        ):
            if value is not None and value < 1:
                raise ApiKeyError(f"{name} must be at least 1")
        key = new_key()
        hashed = digest(key)
        while True:
            record = StoredKey(
                id=new_key_id(),
                tenant=tenant,
                prefix=key[:SHOWN_PREFIX],
                lanes=lanes,
                limits=limits,
                created_at=time.time(),
            )
            if self.redis.hsetnx(keys.API_KEYS, record.id, hashed):
                break
        fields: Any = record.to_redis(hashed)  # redis-py's stubs want an invariant Mapping
        self.redis.hset(keys.api_key(hashed), mapping=fields)
        return key, record

    def list(self) -> list[StoredKey]:
        """Every stored key, revoked ones too, oldest first."""
        index = cast(dict[str, str], self.redis.hgetall(keys.API_KEYS))
        with self.redis.pipeline(transaction=False) as pipe:
            for hashed in index.values():
                pipe.hgetall(keys.api_key(hashed))
            records = pipe.execute()
        found = [StoredKey.from_redis(raw) for raw in records if raw]
        return sorted(found, key=lambda record: record.created_at)

    def revoke(self, key_or_id: str) -> StoredKey | None:
        """Revoke a key, named by its id or by the key itself; ``None`` when unknown.
        The record stays (``keys list`` shows it revoked) and the key answers 401."""
        hashed = cast(str | None, self.redis.hget(keys.API_KEYS, key_or_id))
        if hashed is None and key_or_id.startswith(KEY_PREFIX):
            hashed = digest(key_or_id)
        if hashed is None or not self.redis.exists(keys.api_key(hashed)):
            return None
        self.redis.hsetnx(keys.api_key(hashed), "revoked_at", str(time.time()))
        raw = cast(dict[str, str], self.redis.hgetall(keys.api_key(hashed)))
        return StoredKey.from_redis(raw)

    def any_created(self) -> bool:
        """Whether a key was ever stored: then every request needs a key."""
        return bool(self.redis.exists(keys.API_KEYS))


@dataclass(frozen=True, slots=True)
class Lookup:
    record: StoredKey | None
    """The stored key presented, revoked or not; ``None`` when it is not one."""
    keys_exist: bool
    """Whether any key was ever stored (then anonymous requests are refused)."""


@dataclass
class AsyncKeyStore:
    """Stored keys as the API sees them: one round trip per lookup."""

    client: aioredis.Redis
    _script: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._script = self.client.register_script(script_source("apikey"))

    async def lookup(self, presented: str) -> Lookup:
        """Find the key a client presented (and note it was used)."""
        exists, flat = await self._script(
            keys=[keys.api_key(digest(presented)), keys.API_KEYS], args=[str(time.time())]
        )
        raw = dict(zip(flat[::2], flat[1::2], strict=True))
        return Lookup(StoredKey.from_redis(raw) if raw else None, bool(int(exists)))

    async def any_created(self) -> bool:
        return bool(await self.client.exists(keys.API_KEYS))
