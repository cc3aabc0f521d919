"""Choosing a backend and taking its slot: least in-flight per unit of weight, fleet-wide,
never past a backend's max_concurrency (the take script on a real Redis)."""

from __future__ import annotations

import time

import redis

from laneway import keys
from laneway.jobs import JobStatus
from laneway.settings import BackendConfig, LaneConfig
from laneway.store import JobStore
from workers.balancing import FleetSlots, candidates, in_flight


def backend(
    name: str, max_concurrency: int = 16, weight: float = 1.0, model: str = "m"
) -> BackendConfig:
    return BackendConfig(
        name=name,
        base_url=f"http://{name}.invalid/v1",
        model=model,
        max_concurrency=max_concurrency,
        weight=weight,
    )


def fresh(r: redis.Redis, *names: str) -> None:
    r.delete(*(keys.slots(n) for n in names))


def test_calls_go_to_the_least_loaded_backend_per_unit_of_weight(r: redis.Redis) -> None:
    a, b = backend("w-a", weight=1), backend("w-b", weight=3)
    fresh(r, a.name, b.name)
    slots = FleetSlots(r, 5.0)
    chosen = []
    for _ in range(8):
        slot = slots.take([a, b])
        assert slot is not None
        chosen.append(slot.backend.name)
    assert chosen.count("w-b") == 6 and chosen.count("w-a") == 2
    assert in_flight(r, "w-a") == 2 and in_flight(r, "w-b") == 6


def test_counts_are_shared_by_every_process(r: redis.Redis) -> None:
    a, b = backend("s-a"), backend("s-b")
    fresh(r, a.name, b.name)
    one, other = FleetSlots(r, 5.0, "one"), FleetSlots(r, 5.0, "other")
    first = one.take([a, b])
    assert first is not None
    second = other.take([a, b])
    assert second is not None and second.backend != first.backend


def test_a_full_backend_gets_no_call_and_a_full_lane_none_at_all(r: redis.Redis) -> None:
    small, big = backend("f-small", max_concurrency=1, weight=100), backend("f-big", 3)
    fresh(r, small.name, big.name)
    slots = FleetSlots(r, 5.0)
    picks = [slots.take([small, big]) for _ in range(4)]
    assert [p.backend.name for p in picks if p] == ["f-small", "f-big", "f-big", "f-big"]
    assert slots.take([small, big]) is None  # every backend full: nothing taken
    assert in_flight(r, "f-small") == 1 and in_flight(r, "f-big") == 3
    first = picks[1]
    assert first is not None
    slots.release(first)
    again = slots.take([small, big])
    assert again is not None and again.backend == big


def test_a_slot_given_back_in_the_take_is_free_for_it(r: redis.Redis) -> None:
    only = backend("g-only", max_concurrency=1)
    fresh(r, only.name)
    slots = FleetSlots(r, 5.0)
    held = slots.take([only])
    assert held is not None and slots.take([only]) is None
    retried = slots.take([only], give_back=held)
    assert retried is not None and retried.token != held.token
    assert in_flight(r, "g-only") == 1 and slots.held() == [retried]


def test_ties_go_by_weight(r: redis.Redis) -> None:
    light, heavy = backend("t-light", weight=1), backend("t-heavy", weight=9)
    counts = {"t-light": 0, "t-heavy": 0}
    slots = FleetSlots(r, 5.0)
    for _ in range(200):
        fresh(r, light.name, heavy.name)
        slot = slots.take([light, heavy])
        assert slot is not None
        counts[slot.backend.name] += 1
    assert 130 < counts["t-heavy"] < 200 and counts["t-light"] > 0


def test_a_lapsed_lease_frees_the_slot_and_renewing_keeps_it(r: redis.Redis) -> None:
    only = backend("l-only", max_concurrency=1)
    fresh(r, only.name)
    abandoned = FleetSlots(r, 1.0, "killed")  # never renews, like a SIGKILLed worker
    assert abandoned.take([only]) is not None
    kept = FleetSlots(r, 1.0, "alive")
    deadline = time.monotonic() + 5
    slot = kept.take([only])
    while slot is None:
        assert time.monotonic() < deadline, "the abandoned slot never lapsed"
        time.sleep(0.05)
        slot = kept.take([only])
    assert kept.renew() == []
    renewed_until = r.zscore(keys.slots(only.name), slot.token)
    assert renewed_until is not None
    for _ in range(3):  # renewed past its first lease: still held, still counted
        time.sleep(0.4)
        assert kept.renew() == []
    assert in_flight(r, only.name) == 1 and abandoned.take([only]) is None
    r.zrem(keys.slots(only.name), slot.token)  # taken away (as if lapsed): reported lost
    assert kept.renew() == [slot] and kept.held() == []


def test_candidates_prefer_the_asked_model_and_skip_excluded() -> None:
    a, b, c = backend("a", model="x"), backend("b", model="y"), backend("c", model="y")
    assert candidates([a, b, c]) == [a, b, c]
    assert candidates([a, b, c], prefer_model="y") == [b, c]
    assert candidates([a, b, c], prefer_model="z") == [a, b, c]
    assert candidates([a, b, c], prefer_model="y", exclude=frozenset({"b"})) == [c]


def test_worker_concurrency_never_exceeds_what_the_backends_take_together() -> None:
    lane = LaneConfig(concurrency=16, backends=[backend("a", 2), backend("b", 3)])
    assert lane.worker_concurrency == 5
    assert LaneConfig(concurrency=4, backends=[backend("a", 8)]).worker_concurrency == 4
    assert LaneConfig(concurrency=4).worker_concurrency == 4  # no backends yet


def test_a_slot_goes_back_in_the_round_trip_of_the_jobs_final_write(r: redis.Redis) -> None:
    only = backend("r-only", max_concurrency=1)
    fresh(r, only.name)
    slots = FleetSlots(r, 5.0)
    store = JobStore(r, ttl=60)
    for flushed in (False, True):  # also after Redis lost its script cache
        if flushed:
            r.script_flush()
        slot = slots.take([only])
        assert slot is not None and in_flight(r, only.name) == 1
        reply = store.finish(
            "no-such-job", JobStatus.FAILED, {"error": "x"}, alongside=slots.release_with(slot)
        )
        assert reply == "missing"  # the script ran, and the slot is back
        assert in_flight(r, only.name) == 0 and slots.held() == []
