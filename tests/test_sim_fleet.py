"""The sim backend as a fleet member: shared throughput, FIFO slots, answer lengths, prices.

Wall-clock bounds here are lower bounds (a loaded machine only makes sleeps longer),
except where a test compares against a much larger figure, with seconds of slack.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from laneway.sim.engine import Engine
from tests.sim_helpers import SimBackendProcess, start_sim_backend

CHAT = "/v1/chat/completions"


def body(tokens: int, text: str = "fleet", **extra: Any) -> dict[str, Any]:
    return {
        "model": "sim-medium",
        "messages": [{"role": "user", "content": text}],
        "metadata": {"sim_answer_tokens": str(tokens)},
        **extra,
    }


@pytest.fixture(scope="module")
def shared() -> Iterator[SimBackendProcess]:
    """100 tokens/s, no time to first token, each extra request halves everyone's speed."""
    sim = start_sim_backend(
        *("--profile", "medium", "--name", "shared-test", "--ttft-ms", "0"),
        *("--tokens-per-second", "100", "--batch-slowdown", "1"),
    )
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def one_slot() -> Iterator[SimBackendProcess]:
    sim = start_sim_backend(
        *("--profile", "medium", "--name", "slot-test", "--ttft-ms", "0"),
        *("--tokens-per-second", "100", "--max-concurrency", "1"),
    )
    yield sim
    sim.stop()


def wait_for_stats(
    sim: SimBackendProcess, condition: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = httpx.get(sim.root + "/admin/stats").json()
        if condition(stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached: {stats}")
        time.sleep(0.02)


class Timed(threading.Thread):
    """One request in a thread; ``elapsed`` from its start to the end of the answer."""

    def __init__(self, sim: SimBackendProcess, request: dict[str, Any]) -> None:
        super().__init__()
        self.url = sim.root + CHAT
        self.request = request
        self.elapsed = 0.0
        self.finished_at = 0.0
        self.answer: dict[str, Any] = {}

    def run(self) -> None:
        started = time.monotonic()
        response = httpx.post(self.url, json=self.request, timeout=30)
        self.finished_at = time.monotonic()
        self.elapsed = self.finished_at - started
        self.answer = response.json()


# -- over HTTP: shared throughput --------------------------------------------------------
# Durations come from the sim's own request log (server clock), so the time a loaded
# machine takes to start a thread or open a connection does not blur them.


def served(sim: SimBackendProcess, count: int) -> list[tuple[float, float]]:
    """(started, ended) of the first ``count`` requests since the last reset, once ended."""
    stats = wait_for_stats(
        sim, lambda s: s["completed"] == count and all(r["ended"] for r in s["recent"])
    )
    return [(r["started"], r["ended"]) for r in stats["recent"]]


def test_two_concurrent_requests_each_take_longer_than_one_alone(
    shared: SimBackendProcess,
) -> None:
    httpx.post(shared.root + "/admin/reset")
    alone = Timed(shared, body(101))  # 100 tokens after the first: 1 s of solo work
    alone.start()
    alone.join()
    [(start, end)] = served(shared, 1)
    assert 0.99 <= end - start < 1.5

    httpx.post(shared.root + "/admin/reset")
    pair = [Timed(shared, body(101, f"pair {i}")) for i in range(2)]
    for t in pair:
        t.start()
    for t in pair:
        t.join()
    (a_start, a_end), (b_start, b_end) = served(shared, 2)
    offset = b_start - a_start
    assert offset < 0.5  # they did run together
    # At half speed while together, each ends 2 s - offset after its start.
    assert a_end - a_start >= 1.99 - offset
    assert b_end - b_start >= 1.99 - offset
    assert all(t.answer["usage"]["completion_tokens"] == 101 for t in pair)


def test_a_finished_request_speeds_up_the_rest(shared: SimBackendProcess) -> None:
    # A short request (0.5 s of work) starts; a long one (2 s) joins it `d` later. Both
    # run at half speed until the short one ends, at 1 - d; the long one has then done
    # 0.5 - d and does the rest at full speed: 2.5 - d after its start. Left at the
    # half speed it started with, it would take 4 s.
    httpx.post(shared.root + "/admin/reset")
    short = Timed(shared, body(51, "short"))
    short.start()
    wait_for_stats(shared, lambda s: s["active"] == 1)
    long = Timed(shared, body(201, "long"))
    long.start()
    short.join()
    long.join()
    (short_start, short_end), (long_start, long_end) = served(shared, 2)
    d = long_start - short_start
    assert d < 0.4
    assert short_end - short_start >= 0.99 - d
    assert 2.49 - d <= long_end - long_start < 3.4


def test_streamed_tokens_slow_down_while_another_request_runs(
    shared: SimBackendProcess,
) -> None:
    # 81 tokens: 0.8 s of work after the first. A neighbour (2 s of work) joins at j
    # after the stream's start; from then on the stream runs at half speed, so it ends
    # at j + 2 x (0.8 - j) = 1.6 - j (0.8 s at full speed).
    httpx.post(shared.root + "/admin/reset")
    neighbour = Timed(shared, body(201, "neighbour"))
    tokens = 0
    request = body(81, "stream", stream=True)
    with httpx.stream("POST", shared.root + CHAT, json=request, timeout=30) as response:
        for line in response.iter_lines():
            if '"content":" ' in line:
                tokens += 1
                if tokens == 11:
                    neighbour.start()
    neighbour.join()
    assert tokens == 81
    (stream_start, stream_end), (neighbour_start, _) = served(shared, 2)
    j = neighbour_start - stream_start
    assert j < 0.6
    assert stream_end - stream_start >= 1.59 - j


# -- over HTTP: slots and the queue ------------------------------------------------------


def test_requests_beyond_the_slots_wait_in_arrival_order(one_slot: SimBackendProcess) -> None:
    httpx.post(one_slot.root + "/admin/reset")
    calls = [Timed(one_slot, body(101, f"queued {i}")) for i in range(3)]  # 1 s each
    for i, call in enumerate(calls):
        call.start()
        wait_for_stats(one_slot, lambda s, i=i: s["received"] == i + 1)
    for call in calls:
        call.join()
    assert calls[0].finished_at < calls[1].finished_at < calls[2].finished_at
    times = served(one_slot, 3)
    assert times[2][1] - times[0][0] >= 2.99  # one after the other, 1 s each
    stats = wait_for_stats(one_slot, lambda s: s["active"] == 0)
    assert (stats["peak_active"], stats["peak_queued"], stats["slots"]) == (1, 2, 1)
    assert stats["peak_in_flight"] == 3  # what the clients had open at once
    assert stats["queued"] == 0
    assert stats["busy_slot_seconds"] >= 2.99

    reset = httpx.post(one_slot.root + "/admin/reset").json()
    assert (reset["peak_active"], reset["peak_queued"], reset["busy_slot_seconds"]) == (0, 0, 0)
    assert reset["peak_in_flight"] == 0


def test_a_queued_stream_sends_nothing_until_it_has_a_slot(one_slot: SimBackendProcess) -> None:
    httpx.post(one_slot.root + "/admin/reset")
    ahead = Timed(one_slot, body(51, "ahead"))  # holds the slot 0.5 s
    ahead.start()
    wait_for_stats(one_slot, lambda s: s["active"] == 1)
    request = body(3, "behind", stream=True)
    with httpx.stream("POST", one_slot.root + CHAT, json=request, timeout=30) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if '"content":" ' in line)
        first_token = time.time()  # the sim logs wall-clock times
        assert "data: [DONE]" in list(lines)
    ahead.join()
    (ahead_start, ahead_end), _ = served(one_slot, 2)
    assert first_token >= ahead_start + 0.49
    assert first_token >= ahead_end


def test_a_client_leaving_the_queue_frees_its_place(one_slot: SimBackendProcess) -> None:
    httpx.post(one_slot.root + "/admin/reset")
    ahead = Timed(one_slot, body(51, "ahead"))
    ahead.start()
    wait_for_stats(one_slot, lambda s: s["active"] == 1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(one_slot.root + CHAT, json=body(5, "impatient"), timeout=0.2)
    stats = wait_for_stats(one_slot, lambda s: s["cancelled"] == 1)
    assert stats["queued"] == 0
    ahead.join()
    stats = wait_for_stats(one_slot, lambda s: s["completed"] == 1)
    assert stats["active"] == 0


# -- answer length and prices ------------------------------------------------------------


def test_answer_length_from_metadata_and_max_tokens_still_cuts(
    one_slot: SimBackendProcess,
) -> None:
    with httpx.Client(base_url=one_slot.root, timeout=30) as client:
        answer = client.post(CHAT, json=body(7)).json()
        assert answer["usage"]["completion_tokens"] == 7
        assert answer["choices"][0]["finish_reason"] == "stop"
        cut = client.post(CHAT, json=body(7, max_tokens=3)).json()
        assert cut["usage"]["completion_tokens"] == 3
        assert cut["choices"][0]["finish_reason"] == "length"
        plain = client.post(CHAT, json={**body(1), "metadata": {"other": "x"}}).json()
        assert plain["usage"]["completion_tokens"] == 48  # the medium profile's default
        bad = client.post(CHAT, json={**body(1), "metadata": {"sim_answer_tokens": "many"}})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "metadata.sim_answer_tokens"


def test_prices_in_models_and_stats() -> None:
    sim = start_sim_backend("--profile", "large", "--price-output", "0.02")
    try:
        [card] = httpx.get(sim.root + "/v1/models").json()["data"]
        assert card["pricing"] == {
            "currency": "USD",
            "input_per_1k_tokens": 0.003,
            "output_per_1k_tokens": 0.02,
        }
        profile = httpx.get(sim.root + "/admin/stats").json()["profile"]
        assert profile["pricing"] == card["pricing"]
        assert (profile["tokens_per_second"], profile["context_window"]) == (60.0, 65536)
    finally:
        sim.stop()


# -- the engine itself -------------------------------------------------------------------


def test_speed_falls_with_active_sequences_and_total_throughput_grows_sublinearly() -> None:
    engine = Engine(slots=8, batch_slowdown=0.1)
    speeds = [engine.speed_at(n) for n in range(1, 9)]
    assert speeds[0] == 1.0
    assert all(a > b for a, b in itertools.pairwise(speeds))
    totals = [n * s for n, s in zip(range(1, 9), speeds, strict=True)]
    assert all(a < b for a, b in itertools.pairwise(totals))
    assert totals[-1] < 8 * 0.6  # 8 together give well under 8x one
    assert Engine().speed_at(50) == 1.0  # no slowdown: every request at full speed


def test_engine_hands_slots_over_in_arrival_order_and_skips_the_departed() -> None:
    async def scenario() -> list[str]:
        engine = Engine(slots=1)
        order: list[str] = []
        release = asyncio.Event()

        async def request(name: str, hold: bool = False) -> None:
            async with engine.sequence():
                order.append(name)
                if hold:
                    await release.wait()

        first = asyncio.create_task(request("first", hold=True))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(request(n)) for n in ("second", "gone", "third")]
        await asyncio.sleep(0)
        assert (engine.active, engine.queued, engine.peak_queued) == (1, 3, 3)
        waiting[1].cancel()
        await asyncio.sleep(0)
        assert engine.queued == 2
        release.set()
        await asyncio.gather(first, waiting[0], waiting[2])
        assert (engine.active, engine.queued, engine.peak_active) == (0, 0, 1)
        return order

    assert asyncio.run(scenario()) == ["first", "second", "third"]
