"""Building the inputs of a policy: settings with lanes of backends, and a delivery."""

from __future__ import annotations

from typing import Any

from laneway.lanes import Lane
from laneway.settings import BackendConfig, LaneConfig, Settings
from workers.policies import Delivery

NOW = 1_000_000.0


def backend(name: str, context_window: int = 8192) -> BackendConfig:
    return BackendConfig(
        name=name, base_url=f"http://{name}.invalid/v1", model="m", context_window=context_window
    )


def settings(**lanes: LaneConfig) -> Settings:
    """Settings with the given lanes (``fast_path`` for fast-path); the others default."""
    return Settings(lanes={name.replace("_", "-"): config for name, config in lanes.items()})


def fleet() -> Settings:
    """fast-path → general → high-compute, windows 4k, 16k, 64k."""
    return settings(
        fast_path=LaneConfig(backends=[backend("small", 4096)], fallback=["general"]),
        general=LaneConfig(backends=[backend("medium", 16384)], fallback=["high-compute"]),
        high_compute=LaneConfig(backends=[backend("large", 65536)], fallback=["general"]),
    )


def delivery(lane: Lane = "fast-path", config: Settings | None = None, **fields: Any) -> Delivery:
    values: dict[str, Any] = {"now": NOW, "deadline": NOW + 300}
    values.update(fields)
    return Delivery(lane=lane, settings=config or fleet(), **values)
