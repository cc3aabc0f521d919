from __future__ import annotations

from tests.workers.selection.helpers import backend
from workers.selection.peak_ewma import PeakEwma, cost


def test_the_cost_weighs_latency_by_the_calls_already_in_flight() -> None:
    assert cost(100.0, 0) == 100.0
    assert cost(100.0, 3) == 400.0
    assert cost(30.0, 2) < cost(100.0, 0) < cost(30.0, 3)


def test_the_plan_reads_the_fleets_latencies_and_a_success_updates_them() -> None:
    strategy = PeakEwma(10.0)
    plan = strategy.plan([backend("a")], None)
    assert plan.mode == "ewma" and plan.state_key == "laneway:latency:ewma"
    assert strategy.observe(backend("a"), 12.5) is not None
