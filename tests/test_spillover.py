"""Lane spillover, the decision (workers/spillover.py): which waiting job may move, and
where. Pure logic; the moving on a real Redis is in test_spill_mover.py, the whole path
with real workers and sims in test_spillover_system.py."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from laneway.settings import ConfigError, Settings, SpilloverConfig, load_settings
from workers.spillover import (
    Due,
    LaneRoom,
    WaitingJob,
    due,
    reason,
    spilling_lanes,
    target_lane,
)

BACKEND = {"base_url": "http://x.invalid/v1", "model": "m"}


def settings(**lanes: dict[str, Any]) -> Settings:
    """Every lane with one backend; ``lanes`` adds settings by lane (dashes as underscores)."""
    config: dict[str, Any] = {
        lane: {"backends": [{"name": f"{lane}-1", **BACKEND}]}
        for lane in ("fast-path", "general", "high-compute")
    }
    for name, extra in lanes.items():
        config[name.replace("_", "-")].update(extra)
    return Settings(lanes=config)


ROOMY = LaneRoom(free_slots=4, queued=0, workers=1, context_window=8192)


def job(**fields: Any) -> WaitingJob:
    base: dict[str, Any] = {"lane": "fast-path", "status": "routed", "waited": 10.0}
    return WaitingJob(**{**base, **fields})


def test_off_by_default() -> None:
    defaults = Settings()
    assert spilling_lanes(defaults) == {}
    assert all(lane.spillover is None for lane in defaults.lanes.values())
    assert target_lane(defaults, job(waited=1e6), {"general": ROOMY}) is None


def test_a_job_moves_once_it_has_waited_long_enough() -> None:
    rule = SpilloverConfig(to=["general"], after_seconds=5)
    assert due(rule, job(waited=4.9)) is None
    assert due(rule, job(waited=5.0)) == Due(5.0)


@pytest.mark.parametrize(
    "waiting",
    [
        job(status="running"),
        job(status="succeeded"),
        job(status="cancelled"),
        job(status="queued"),
        job(spilled=True),
        job(strategy="route", confidence=1.0),
    ],
    ids=["running", "finished", "cancelled", "unrouted", "moved-once", "forced-lane"],
)
def test_jobs_that_never_move(waiting: WaitingJob) -> None:
    rule = SpilloverConfig(to=["general"], after_seconds=1, max_confidence=1.0)
    assert due(rule, waiting) is None


def test_low_confidence_moves_sooner_when_asked() -> None:
    rule = SpilloverConfig(
        to=["general"], after_seconds=20, max_confidence=0.6, low_confidence_after_seconds=1
    )
    assert due(rule, job(lane="high-compute", waited=2, confidence=0.61)) is None
    assert due(rule, job(lane="high-compute", waited=0.5, confidence=0.4)) is None
    assert due(rule, job(lane="high-compute", waited=2, confidence=0.4)) == Due(2, 0.4)
    assert due(rule, job(lane="high-compute", waited=2, confidence=None)) is None
    # confidence alone: a sure job never moves by age
    only = SpilloverConfig(to=["general"], after_seconds=None, max_confidence=0.6)
    assert due(only, job(waited=1e6, confidence=0.9)) is None


def test_only_to_a_lane_with_room_beyond_its_queue_and_a_live_worker() -> None:
    config = settings(fast_path={"spillover": {"to": ["general"]}})
    waiting = job()
    assert target_lane(config, waiting, {"general": ROOMY}) == "general"
    full = LaneRoom(free_slots=0, queued=0, workers=1, context_window=8192)
    queued = LaneRoom(free_slots=2, queued=2, workers=1, context_window=8192)
    unserved = LaneRoom(free_slots=4, queued=0, workers=0, context_window=8192)
    for room in (full, queued, unserved):
        assert target_lane(config, waiting, {"general": room}) is None
    assert LaneRoom(free_slots=3, queued=2, workers=2).room == 1


def test_the_first_lane_of_to_with_room_and_never_a_visited_one() -> None:
    config = settings(fast_path={"spillover": {"to": ["general", "high-compute"]}})
    full = LaneRoom(free_slots=0, queued=0, workers=1, context_window=8192)
    rooms = {"general": ROOMY, "high-compute": ROOMY}
    assert target_lane(config, job(), rooms) == "general"
    assert target_lane(config, job(), {**rooms, "general": full}) == "high-compute"
    # tried already, or outside the job's API key (both travel as ``visited``)
    assert target_lane(config, job(visited={"general"}), rooms) == "high-compute"
    assert target_lane(config, job(visited={"general", "high-compute"}), rooms) is None


def test_not_to_a_lane_whose_windows_are_too_small() -> None:
    config = settings(high_compute={"spillover": {"to": ["general"]}})
    waiting = job(lane="high-compute")
    assert target_lane(config, waiting, {"general": ROOMY}, context_needed=8192) == "general"
    assert target_lane(config, waiting, {"general": ROOMY}, context_needed=8193) is None
    assert target_lane(config, waiting, {"general": ROOMY}, context_needed=None) == "general"


def test_the_reason_names_the_wait_and_the_lanes() -> None:
    rule = SpilloverConfig(to=["general"], max_confidence=0.6)
    assert (
        reason("fast-path", "general", Due(7.24), rule)
        == "spillover: waited 7.2s in fast-path, general had free slots"
    )
    assert reason("high-compute", "general", Due(1.5, 0.41), rule) == (
        "spillover: waited 1.5s in high-compute with classifier confidence 0.41 "
        "(at most 0.6), general had free slots"
    )


@pytest.mark.parametrize(
    ("spillover", "named"),
    [
        ({"to": []}, "to"),
        ({"to": ["fast-path"]}, "itself"),
        ({"to": ["general", "general"]}, "twice"),
        ({"to": ["general"], "after_seconds": None}, "after_seconds, max_confidence"),
        ({"to": ["general"], "after_seconds": 0}, "after_seconds"),
        ({"to": ["general"], "max_confidence": 1.5}, "max_confidence"),
        ({"to": ["turbo"]}, "to"),
    ],
)
def test_bad_settings_are_named(spillover: dict[str, Any], named: str, tmp_path: Any) -> None:
    path = tmp_path / "laneway.yaml"

    path.write_text(yaml.safe_dump({"lanes": {"fast-path": {"spillover": spillover}}}))
    with pytest.raises(ConfigError, match=named):
        load_settings(path)
