"""API keys → tenants. Keys come from the environment only and are never logged."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[tuple[str, str], ...]
    """(key, tenant) pairs."""

    @classmethod
    def from_env(cls, variable: str) -> KeyRing:
        """Parse ``key:tenant,key:tenant`` (a bare key maps to the default tenant)."""
        pairs = []
        for item in os.environ.get(variable, "").split(","):
            item = item.strip()
            if not item:
                continue
            key, _, tenant = item.partition(":")
            pairs.append((key.strip(), tenant.strip() or DEFAULT_TENANT))
        return cls(tuple(pairs))

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
