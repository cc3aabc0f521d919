"""A few of the test system's processes on a Redis database of their own, with a
config of their own (small queue limits, short retention, ...), stopped when done."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import yaml

from laneway.heartbeat import live_roles
from laneway.net import free_port, wait_for_port
from laneway.processes import terminate
from laneway.supervisor import Child
from tests.system import LANEWAY, System


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class SideSystem:
    system: System
    redis_url: str
    redis: redis.Redis
    folder: Path
    children: list[Child] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    """Added to the test system's environment for this side system's processes."""

    def config(self, name: str, changes: dict[str, Any]) -> Path:
        """The test system's config on this database, with ``changes`` merged in."""
        base: dict[str, Any] = yaml.safe_load(self.system.config.read_text())
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(merged({**base, "redis_url": self.redis_url}, changes)))
        return path

    def _spawn(self, name: str, argv: list[str], config: Path) -> None:
        env = {**self.system.env, **self.env, "LANEWAY_CONFIG": str(config)}
        self.children.append(self.system.supervisor.spawn(name, argv, env))

    def start_worker(self, role: str, config: Path) -> None:
        self._spawn(f"{self.folder.name}-{role}", [*LANEWAY, "worker", "--lane", role], config)

    def start_api(self, config: Path) -> str:
        port = free_port()
        argv = [*LANEWAY, "api", "--port", str(port)]
        self._spawn(f"{self.folder.name}-api-{port}", argv, config)
        if not wait_for_port("127.0.0.1", port, 30):
            raise RuntimeError("API did not start")
        return f"http://127.0.0.1:{port}"

    def wait_ready(self, *roles: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = live_roles(self.redis.hgetall("laneway:workers"))  # type: ignore[arg-type]
            if all(live.get(role, 0) > 0 for role in roles):
                return
            time.sleep(0.1)
        raise RuntimeError(f"workers {roles} not ready; logs in {self.system.supervisor.log_dir}")


@contextmanager
def side_system(system: System, folder: Path, db: int) -> Iterator[SideSystem]:
    url = system.redis_url.rsplit("/", 1)[0] + f"/{db}"
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    side = SideSystem(system, url, client, folder)
    try:
        yield side
    finally:
        for child in side.children:
            terminate(child.process, 15)
        client.flushdb()
        client.close()
