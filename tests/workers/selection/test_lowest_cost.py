from __future__ import annotations

from tests.workers.selection.helpers import backend
from workers.selection.lowest_cost import LowestCost, cheapest_first
from workers.selection.plan import JobFacts

CHEAP = backend("cheap", context_window=1000, price_per_1k_input=0.1, price_per_1k_output=0.2)
MIDDLE = backend("middle", context_window=8000, price_per_1k_input=0.5, price_per_1k_output=1.5)
DEAR = backend("dear", context_window=64000, price_per_1k_input=3, price_per_1k_output=15)


def chat(chars: int, max_tokens: int = 0) -> dict[str, object]:
    request: dict[str, object] = {"messages": [{"role": "user", "content": "x" * chars}]}
    if max_tokens:
        request["max_tokens"] = max_tokens
    return request


def names(order: list[object]) -> list[str]:
    return [b.name for b in order]  # type: ignore[attr-defined]


def test_the_cheapest_backend_that_fits_comes_first() -> None:
    assert names(cheapest_first([DEAR, MIDDLE, CHEAP], chat(400))) == ["cheap", "middle", "dear"]


def test_backends_too_small_for_the_prompt_and_its_budget_are_left_out() -> None:
    assert names(cheapest_first([DEAR, MIDDLE, CHEAP], chat(400, max_tokens=950))) == [
        "middle",
        "dear",
    ]
    assert names(cheapest_first([DEAR, MIDDLE, CHEAP], chat(4 * 20_000))) == ["dear"]


def test_when_nothing_fits_every_backend_stays_in_price_order() -> None:
    # the call's context-length error then moves the job to a larger lane
    assert names(cheapest_first([DEAR, CHEAP], chat(4 * 100_000))) == ["cheap", "dear"]


def test_the_plan_takes_the_first_with_room_in_that_order() -> None:
    plan = LowestCost().plan([DEAR, CHEAP], JobFacts(chat(40)))
    assert plan.mode == "ordered" and names(list(plan.backends)) == ["cheap", "dear"]
    assert LowestCost.needs_job
