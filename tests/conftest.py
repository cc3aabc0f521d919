"""Fixtures: real Redis, real sim backends, real Celery workers and a real API."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from laneway.redis_server import EmbeddedRedis
from tests.sim_helpers import SimBackendProcess, start_sim_backend
from tests.system import System, sim_backend_config, write_config


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sims() -> Iterator[dict[str, SimBackendProcess]]:
    def sim(name: str, profile: str, *args: str) -> SimBackendProcess:
        return start_sim_backend("--profile", profile, "--name", name, *args)

    fast = ("--ttft-ms", "2")
    quick = ("--ttft-ms", "5", "--tokens-per-second", "2000")
    started = {
        "fast-a": sim("fast-a", "small", *fast),
        "fast-b": sim("fast-b", "small", *fast),
        "general-a": sim("general-a", "medium", *quick),
        "high-a": sim("high-a", "large", *quick),
        # slow enough to watch tokens arrive and to cancel mid-call; asked for by name
        "slow-a": sim(
            "slow-a", "large", "--model", "sim-slow", "--ttft-ms", "50", "--tokens-per-second", "40"
        ),
    }
    yield started
    for sim in started.values():
        sim.stop()


@pytest.fixture(scope="session")
def system(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: EmbeddedRedis,
    sims: dict[str, SimBackendProcess],
) -> Iterator[System]:
    """Classifier worker, one worker per lane and the API, all real processes."""
    from laneway.supervisor import Supervisor

    base = tmp_path_factory.mktemp("system")
    config = write_config(
        base / "laneway.yaml",
        redis_server.url,
        {
            "fast-path": [
                sim_backend_config("fast-a", sims["fast-a"], "sim-small"),
                sim_backend_config("fast-b", sims["fast-b"], "sim-small"),
            ],
            "general": [
                sim_backend_config(
                    "general-a",
                    sims["general-a"],
                    "sim-medium",
                    price_per_1k_input=0.5,
                    price_per_1k_output=1.5,
                )
            ],
            "high-compute": [
                sim_backend_config("high-a", sims["high-a"], "sim-large"),
                sim_backend_config("slow-a", sims["slow-a"], "sim-slow", weight=0.01),
            ],
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEWAY_")}
    env.update(LANEWAY_CONFIG=str(config), PYTHONUNBUFFERED="1")
    supervisor = Supervisor(base)
    sys_ = System(config=config, redis_url=redis_server.url, supervisor=supervisor, env=env)
    try:
        for role in ("classify", "fast-path", "general", "high-compute"):
            sys_.start_worker(role)
        sys_.api_url = sys_.start_api()
        sys_.wait_ready(["classify", "fast-path", "general", "high-compute"])
        yield sys_
    finally:
        supervisor.stop()


@pytest.fixture
def r(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
