from __future__ import annotations

import pytest
from pydantic import ValidationError

from laneway.settings import LaneConfig
from workers.selection import selection_for
from workers.selection.affinity import Affinity
from workers.selection.least_in_flight import LeastInFlight
from workers.selection.weighted_round_robin import WeightedRoundRobin


def test_least_in_flight_is_the_default() -> None:
    assert isinstance(selection_for("general", LaneConfig()), LeastInFlight)


def test_a_strategy_is_named_alone_or_with_its_options() -> None:
    short = LaneConfig.model_validate({"balancing": "weighted-round-robin"})
    assert isinstance(selection_for("general", short), WeightedRoundRobin)
    full = LaneConfig.model_validate(
        {"balancing": {"strategy": "affinity", "affinity_key": "user"}}
    )
    assert isinstance(selection_for("general", full), Affinity)


def test_an_unknown_strategy_or_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="least-in-flight"):
        LaneConfig.model_validate({"balancing": "round-robin"})
    with pytest.raises(ValidationError, match="affinity_key"):
        LaneConfig.model_validate({"balancing": {"strategy": "affinity", "affinity_key": "ip"}})
