from __future__ import annotations

from collections import Counter

from tests.workers.selection.helpers import backend
from workers.selection.weighted_round_robin import WeightedRoundRobin, smooth_rotation


def test_shares_follow_the_weights_and_are_spread_evenly() -> None:
    picks = smooth_rotation({"a": 1, "b": 3}, 400)
    assert Counter(picks) == {"a": 100, "b": 300}
    assert "a" in picks[:4] and picks[:4].count("b") == 3  # not 300 b's first


def test_the_plan_is_the_scripts_wrr_with_the_lanes_shared_state() -> None:
    pool = [backend("a"), backend("b", weight=3)]
    plan = WeightedRoundRobin("general").plan(pool, None)
    assert plan.mode == "wrr" and list(plan.backends) == pool
    assert plan.state_key == "laneway:wrr:general"
