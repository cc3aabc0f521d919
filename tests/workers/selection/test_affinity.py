from __future__ import annotations

from collections import Counter

from laneway.settings import BalancingConfig
from tests.workers.selection.helpers import backend
from workers.selection.affinity import Affinity, affinity_key, ring_order
from workers.selection.plan import JobFacts

LANE = [backend("a"), backend("b"), backend("c")]


def chat(text: str, **fields: object) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}], **fields}


def first(plan_backends: object) -> str:
    return plan_backends[0].name  # type: ignore[index,no-any-return]


def test_a_key_always_maps_to_the_same_backend_and_keys_spread_over_all() -> None:
    owners = Counter(ring_order(LANE, f"session-{i}")[0] for i in range(3000))
    assert set(owners) == {"a", "b", "c"}
    assert all(800 < n < 1200 for n in owners.values()), owners
    assert ring_order(LANE, "session-7") == ring_order(list(reversed(LANE)), "session-7")


def test_the_ring_order_visits_every_backend_once() -> None:
    order = ring_order(LANE, "tenant-x")
    assert sorted(order) == ["a", "b", "c"]


def test_a_down_backends_keys_go_to_the_next_on_the_ring_and_no_other_key_moves() -> None:
    strategy = Affinity(BalancingConfig(strategy="affinity", affinity_key="tenant"), LANE)
    keys = [f"tenant-{i}" for i in range(200)]
    before = {k: first(strategy.plan(LANE, JobFacts(tenant=k)).backends) for k in keys}
    healthy = [b for b in LANE if b.name != "b"]
    after = {k: first(strategy.plan(healthy, JobFacts(tenant=k)).backends) for k in keys}
    for key in keys:
        if before[key] == "b":
            assert after[key] == ring_order(LANE, key)[1]
        else:
            assert after[key] == before[key]


def test_heavier_backends_own_more_of_the_ring() -> None:
    lane = [backend("a", weight=1), backend("b", weight=3)]
    owners = Counter(ring_order(lane, f"k{i}")[0] for i in range(4000))
    assert 0.65 < owners["b"] / 4000 < 0.85, owners


def test_the_key_is_the_tenant_the_user_field_or_the_prompts_prefix() -> None:
    job = JobFacts(chat("a long shared system prompt, then a question", user="u-1"), "t-1")
    assert affinity_key(BalancingConfig(affinity_key="tenant"), job) == "t-1"
    assert affinity_key(BalancingConfig(affinity_key="user"), job) == "u-1"
    assert affinity_key(BalancingConfig(affinity_key="prefix", prefix_chars=13), job) == (
        "a long shared"
    )
    assert affinity_key(BalancingConfig(affinity_key="user"), JobFacts(chat("x"))) == ""


def test_a_job_without_a_key_is_spread_by_load() -> None:
    strategy = Affinity(BalancingConfig(strategy="affinity", affinity_key="user"), LANE)
    assert strategy.plan(LANE, JobFacts(chat("hi"))).mode == "least"
    assert strategy.plan(LANE, JobFacts(chat("hi", user="u"))).mode == "ordered"
