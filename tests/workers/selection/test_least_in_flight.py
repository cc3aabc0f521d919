from __future__ import annotations

from tests.workers.selection.helpers import backend
from workers.selection.least_in_flight import LeastInFlight
from workers.selection.plan import Plan


def test_the_default_leaves_the_choice_to_the_scripts_least_loaded_mode() -> None:
    pool = [backend("a"), backend("b")]
    assert LeastInFlight().plan(pool, None) == Plan(pool, "least")
    assert LeastInFlight().observe(pool[0], 12.0) is None
