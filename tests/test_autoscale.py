"""``laneway worker --lane L --autoscale MAX,MIN``: more worker processes under a burst,
back to MIN once the queue has drained."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from laneway.autoscale import ScalePolicy, desired_workers, parse_autoscale
from laneway.heartbeat import live_roles
from tests.side_system import SideSystem, side_system
from tests.sim_helpers import start_sim_backend
from tests.system import LANEWAY, System, chat, wait_job

POLICY = ScalePolicy(min_workers=1, max_workers=4, concurrency=8, scale_down_after=30)


def test_a_backlog_scales_up_at_once_to_its_size_within_bounds() -> None:
    assert desired_workers(POLICY, current=1, waiting=0, below_for=0) == 1
    assert desired_workers(POLICY, current=1, waiting=8, below_for=0) == 1
    assert desired_workers(POLICY, current=1, waiting=9, below_for=0) == 2
    assert desired_workers(POLICY, current=1, waiting=30, below_for=0) == 4
    assert desired_workers(POLICY, current=2, waiting=10_000, below_for=0) == 4
    assert desired_workers(POLICY, current=0, waiting=0, below_for=100) == 1


def test_scaling_down_waits_and_goes_one_worker_at_a_time() -> None:
    assert desired_workers(POLICY, current=4, waiting=0, below_for=29.9) == 4
    assert desired_workers(POLICY, current=4, waiting=0, below_for=30) == 3
    assert desired_workers(POLICY, current=4, waiting=17, below_for=30) == 3
    assert desired_workers(POLICY, current=1, waiting=0, below_for=1000) == 1
    assert desired_workers(POLICY, current=6, waiting=0, below_for=0) == 4  # MAX lowered


def test_autoscale_option_reads_celerys_order() -> None:
    assert parse_autoscale("4,1") == (1, 4)
    assert parse_autoscale("1,4") == (1, 4)
    assert parse_autoscale("3") == (1, 3)
    for bad in ("a,b", "1,2,3", ""):
        with pytest.raises(ValueError):
            parse_autoscale(bad)
    with pytest.raises(ValueError):
        ScalePolicy(min_workers=3, max_workers=2, concurrency=1)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> float:
    """Seconds until ``condition`` held."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout}s: {what}"
        time.sleep(0.1)
    return time.monotonic() - start


def live_workers(side: SideSystem, lane: str) -> int:
    return live_roles(side.redis.hgetall("laneway:workers")).get(lane, 0)  # type: ignore[arg-type]


def test_a_burst_scales_a_lane_up_and_the_drain_back_down(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> None:
    slow = start_sim_backend(
        "--profile",
        "medium",
        "--name",
        "slowish",
        "--ttft-ms",
        "400",
        "--tokens-per-second",
        "2000",
    )
    folder = tmp_path_factory.mktemp("autoscale")
    try:
        with side_system(system, folder, db=10) as side:
            config = side.config(
                "autoscale",
                {
                    "data_dir": str(folder / "data"),
                    "lanes": {
                        "general": {
                            "backends": [
                                {
                                    "name": "slowish",
                                    "base_url": slow.base_url,
                                    "model": "sim-medium",
                                }
                            ]
                        }
                    },
                },
            )
            env = {**system.env, "LANEWAY_CONFIG": str(config)}
            argv = [*LANEWAY, "worker", "--lane", "general", "--concurrency", "2"]
            argv += ["--autoscale", "3,1", "--scale-down-after", "1"]
            side.children.append(system.supervisor.spawn("autoscale-general", argv, env))
            wait_until(lambda: live_workers(side, "general") == 1, "the first worker")
            api = side.start_api(config)
            with httpx.Client(base_url=api, timeout=30) as client:
                ids = [
                    client.post("/v1/jobs", json=chat(f"burst {i}", route="general")).json()["id"]
                    for i in range(48)
                ]
                wait_until(lambda: live_workers(side, "general") == 3, "three workers")
                for job_id in ids:
                    assert wait_job(client, job_id, timeout=60)["status"] == "succeeded"
            wait_until(lambda: live_workers(side, "general") == 1, "back to one worker")
            logs = sorted((folder / "data" / "autoscale-general" / "logs").glob("*.log"))
            ran = [log.name for log in logs if "succeeded in" in log.read_text()]
            assert len(ran) >= 2, f"only {ran} ran jobs"
            assert live_workers(side, "general") == 1  # and it stays at MIN
    finally:
        slow.stop()
