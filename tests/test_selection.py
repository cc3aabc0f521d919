"""Each selection strategy's plan carried out by the slot-take script on a real Redis:
choosing and taking in one round trip, never past a backend's max_concurrency."""

from __future__ import annotations

from collections import Counter

import redis

from laneway import keys
from laneway.settings import BackendConfig, BalancingConfig
from workers.balancing import FleetSlots, in_flight
from workers.selection.affinity import Affinity, ring_order
from workers.selection.lowest_cost import LowestCost
from workers.selection.peak_ewma import PeakEwma
from workers.selection.plan import JobFacts, Plan
from workers.selection.power_of_two import PowerOfTwoChoices
from workers.selection.weighted_round_robin import WeightedRoundRobin


def backend(
    name: str, max_concurrency: int = 1000, weight: float = 1.0, **extra: object
) -> BackendConfig:
    return BackendConfig(
        name=name,
        base_url=f"http://{name}.invalid/v1",
        model="m",
        max_concurrency=max_concurrency,
        weight=weight,
        **extra,  # type: ignore[arg-type]
    )


def fresh(r: redis.Redis, *backends: BackendConfig) -> None:
    r.delete(*(keys.slots(b.name) for b in backends))


def take_many(slots: FleetSlots, plan: Plan, n: int, release: bool = True) -> Counter[str]:
    chosen: Counter[str] = Counter()
    for _ in range(n):
        slot = slots.take(plan)
        assert slot is not None
        chosen[slot.backend.name] += 1
        if release:
            slots.release(slot)
    return chosen


def test_weighted_round_robin_shares_follow_the_weights_across_workers(r: redis.Redis) -> None:
    a, b, c = backend("wrr-a", weight=1), backend("wrr-b", weight=2), backend("wrr-c", weight=5)
    fresh(r, a, b, c)
    r.delete(keys.rotation("wrr-test"))
    strategy = WeightedRoundRobin("wrr-test")
    one, other = FleetSlots(r, 5.0, "one"), FleetSlots(r, 5.0, "other")
    chosen: Counter[str] = Counter()
    for i in range(400):  # two workers taking turns share one rotation
        chosen += take_many(one if i % 2 else other, strategy.plan([a, b, c], None), 1)
    assert chosen == {"wrr-a": 50, "wrr-b": 100, "wrr-c": 250}


def test_weighted_round_robin_skips_a_full_backend(r: redis.Redis) -> None:
    a, b = backend("wrrf-a", max_concurrency=1, weight=3), backend("wrrf-b", weight=1)
    fresh(r, a, b)
    r.delete(keys.rotation("wrrf"))
    slots = FleetSlots(r, 5.0)
    plan = WeightedRoundRobin("wrrf").plan([a, b], None)
    chosen = take_many(slots, plan, 5, release=False)
    assert chosen == {"wrrf-a": 1, "wrrf-b": 4} and in_flight(r, a.name) == 1


def test_ordered_takes_the_first_with_room(r: redis.Redis) -> None:
    cheap = backend("o-cheap", max_concurrency=2, price_per_1k_output=0.1)
    dear = backend("o-dear", max_concurrency=2, price_per_1k_output=9)
    fresh(r, cheap, dear)
    slots = FleetSlots(r, 5.0)
    plan = LowestCost().plan([dear, cheap], JobFacts({"prompt": "hi"}))
    picks = [slots.take(plan) for _ in range(5)]
    assert [p.backend.name if p else None for p in picks] == [
        "o-cheap",
        "o-cheap",
        "o-dear",
        "o-dear",
        None,
    ]


def test_power_of_two_choices_takes_the_less_loaded_of_two(r: redis.Redis) -> None:
    busy, idle = backend("p-busy", max_concurrency=10), backend("p-idle", max_concurrency=10)
    fresh(r, busy, idle)
    slots = FleetSlots(r, 5.0)
    for _ in range(3):
        assert slots.take([busy]) is not None
    plan = PowerOfTwoChoices().plan([busy, idle], None)
    # with two candidates both are always drawn: the idle one wins until loads meet
    assert take_many(slots, plan, 3, release=False) == {"p-idle": 3}
    spread = take_many(slots, PowerOfTwoChoices().plan([busy, idle], None), 8, release=False)
    assert in_flight(r, busy.name) <= 10 and in_flight(r, idle.name) <= 10
    assert sum(spread.values()) == 8


def test_power_of_two_choices_spreads_over_many_backends(r: redis.Redis) -> None:
    pool = [backend(f"p2-{i}") for i in range(6)]
    fresh(r, *pool)
    slots = FleetSlots(r, 5.0)
    chosen = take_many(slots, PowerOfTwoChoices().plan(pool, None), 600, release=False)
    # two choices keep the gap to a few calls however many are made (one random
    # choice would drift by about ±25 after 600)
    assert max(chosen.values()) - min(chosen.values()) <= 5, chosen


def test_peak_ewma_prefers_the_faster_backend_until_its_queue_costs_more(r: redis.Redis) -> None:
    fast, slow = backend("e-fast"), backend("e-slow")
    fresh(r, fast, slow)
    r.hdel(keys.LATENCY_EWMA, *(f"{n}{s}" for n in (fast.name, slow.name) for s in ("", "|at")))
    strategy = PeakEwma(10.0)
    for chosen, latency in ((fast, 10.0), (slow, 45.0)):
        with r.pipeline(transaction=False) as pipe:
            observe = strategy.observe(chosen, latency)
            assert observe is not None
            observe(pipe)
            pipe.execute()
    assert float(r.hget(keys.LATENCY_EWMA, fast.name) or 0) == 10.0
    slots = FleetSlots(r, 5.0)
    plan = strategy.plan([fast, slow], None)
    # costs 10x(held+1) against 45x(held+1): four calls on fast before one on slow
    held = [slots.take(plan) for _ in range(5)]
    assert [s.backend.name for s in held if s] == ["e-fast"] * 4 + ["e-slow"]


def test_peak_ewma_jumps_up_at_once_and_comes_down_slowly(r: redis.Redis) -> None:
    one = backend("e-peak")
    r.hdel(keys.LATENCY_EWMA, one.name, f"{one.name}|at")
    strategy = PeakEwma(1000.0)
    for latency in (10.0, 500.0, 10.0):
        with r.pipeline(transaction=False) as pipe:
            observe = strategy.observe(one, latency)
            assert observe is not None
            observe(pipe)
            pipe.execute()
        if latency == 500.0:
            assert float(r.hget(keys.LATENCY_EWMA, one.name) or 0) == 500.0
    assert 400 < float(r.hget(keys.LATENCY_EWMA, one.name) or 0) < 500


def test_affinity_keeps_a_key_on_its_backend_then_the_next_when_full(r: redis.Redis) -> None:
    lane = [backend("aff-a", max_concurrency=2), backend("aff-b", 2), backend("aff-c", 2)]
    fresh(r, *lane)
    strategy = Affinity(BalancingConfig(strategy="affinity", affinity_key="tenant"), lane)
    slots = FleetSlots(r, 5.0)
    order = ring_order(lane, "tenant-1")
    plan = strategy.plan(lane, JobFacts(tenant="tenant-1"))
    picks = [slots.take(plan) for _ in range(3)]
    assert [p.backend.name for p in picks if p] == [order[0], order[0], order[1]]


def test_a_state_key_and_a_slot_given_back_go_together(r: redis.Redis) -> None:
    only = backend("gb-only", max_concurrency=1)
    fresh(r, only)
    slots = FleetSlots(r, 5.0)
    plan = WeightedRoundRobin("gb").plan([only], None)
    held = slots.take(plan)
    assert held is not None and slots.take(plan) is None
    again = slots.take(plan, give_back=held)
    assert again is not None and in_flight(r, only.name) == 1
