from __future__ import annotations

from laneway.settings import BackendConfig


def backend(name: str, **fields: object) -> BackendConfig:
    return BackendConfig(name=name, base_url=f"http://{name}.invalid/v1", model="m", **fields)  # type: ignore[arg-type]
