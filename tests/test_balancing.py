"""Spreading one worker's calls over a lane's backends."""

from __future__ import annotations

from contextlib import ExitStack

from laneway.settings import BackendConfig, LaneConfig
from workers.backends import Balancer


def backend(name: str, max_concurrency: int = 16, weight: float = 1.0) -> BackendConfig:
    return BackendConfig(
        name=name,
        base_url=f"http://{name}.invalid/v1",
        model="m",
        max_concurrency=max_concurrency,
        weight=weight,
    )


def test_calls_go_to_the_least_loaded_backend_per_unit_of_weight() -> None:
    a, b = backend("a", weight=1), backend("b", weight=3)
    balancer = Balancer([a, b])
    with ExitStack() as held:
        chosen = []
        for _ in range(8):
            pick = balancer.choose()
            assert pick is not None
            held.enter_context(balancer.using(pick))
            chosen.append(pick.name)
    assert chosen.count("b") == 6 and chosen.count("a") == 2


def test_a_backend_at_its_max_concurrency_gets_no_more_calls_while_another_has_room() -> None:
    small, big = backend("small", max_concurrency=1, weight=100), backend("big", 4)
    balancer = Balancer([small, big])
    with ExitStack() as held:
        held.enter_context(balancer.using(small))  # full: 1 of 1
        held.enter_context(balancer.using(big))
        # by load per weight small (1/100) beats big (1/1), but small is full
        for _ in range(3):
            pick = balancer.choose()
            assert pick is not None and pick.name == "big"
            held.enter_context(balancer.using(pick))
        # every backend full: the least loaded still answers (the caller decides)
        assert balancer.choose() is small


def test_worker_concurrency_never_exceeds_what_the_backends_take_together() -> None:
    lane = LaneConfig(concurrency=16, backends=[backend("a", 2), backend("b", 3)])
    assert lane.worker_concurrency == 5
    assert LaneConfig(concurrency=4, backends=[backend("a", 8)]).worker_concurrency == 4
    assert LaneConfig(concurrency=4).worker_concurrency == 4  # no backends yet
