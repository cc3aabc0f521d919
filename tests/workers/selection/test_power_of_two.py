from __future__ import annotations

from tests.workers.selection.helpers import backend
from workers.selection.power_of_two import PowerOfTwoChoices


def test_power_of_two_is_chosen_in_the_script_among_those_with_room() -> None:
    pool = [backend("a"), backend("b"), backend("c")]
    plan = PowerOfTwoChoices().plan(pool, None)
    assert plan.mode == "p2c" and list(plan.backends) == pool
