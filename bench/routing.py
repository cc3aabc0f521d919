"""Fleet benchmark: what sending each request to the right pool buys, measured.

A fleet of sim backends of three sizes, each a server with its own slots (throughput
shared by its active requests, later ones queued in arrival order):

    large-1            the large profile: slow, expensive, long context; 20 slots
    medium-1           the medium profile; 7 slots
    small-1            the small profile: fast and cheap; one slot
    small-2            a slower (320 tok/s), cheaper small one; one slot

sized so that routing every request by its true label (the oracle) loads each pool
to about 50-70 % (the planned and the measured loads are printed). Traffic like
production chat: 50 % fast-path, 35 % general and 15 % high-compute requests, drawn
from the labelled dev set (read at run time, never copied), with the length of each
answer set by the request's true label (the sim is told through
``metadata.sim_answer_tokens``; ``max_tokens`` is never sent, so the classifier sees
nothing of it). Poisson arrivals, then a burst at a multiple of the
rate. Every strategy replays the same arrivals, one after the other, in one run:

    round-robin           over all servers, quality-blind (nginx's default)
    weighted round-robin  weights = the servers' slots (nginx's smooth algorithm)
    least-connections     fewest open requests, quality-blind (nginx's least_conn)
    large only            everything to the large model, on a large-only fleet of the
                          same hardware budget (a server's budget = its output price x
                          its tokens/s with every slot busy)
    oracle                the true label's pool, least-connections inside it
    laneway               a real laneway system over the same sims: API, classifier
                          (laneway's default strategy), two worker processes per lane
                          (--workers-per-lane), each backend's max_concurrency = its
                          slots, weight = its tokens/s; submitted through the API's
                          OpenAI endpoint with model "auto"; laneway's default in-lane
                          strategy (least-in-flight)
    laneway: <strategy>   the same on a fresh system with ``balancing: <strategy>`` in
                          every lane, for each other in-lane strategy (--strategies);
                          only fast-path has two backends, so only there they differ
    laneway + spillover   only when --only names "spill": the same with lane spillover
                          on (see ``spillover``): fast-path jobs waiting --spill-after
                          seconds run in general or high-compute when one has room
                          (--spill-to); optionally high-compute jobs placed with low
                          confidence in general

The first five are direct clients of the sims. Every response is streamed, for the
time to first token. Reported per strategy: end-to-end latency and time to first token
(p50/p99, overall and per true label), total cost (usage x the sims' prices), quality
misses (high-compute served by a smaller model than the large one, general by the
small one), failed jobs, each backend's peak of requests open in it (the sim's own
counter, active + queued inside it) against its slots, its load, the weighted
strategies' shares against their weights, and the cost-saving bound (the share of the
all-large cost that this mix need not spend). For laneway the job records say where
its distance from the oracle comes from (misroutes, queue waits, the classify stage).
At the end, issue 11's targets, PASS or MISS with the numbers, for each laneway run.

    python bench/routing.py [--quick] [--seed 7] [--json out.json] [--devset PATH]

A default run takes about eleven minutes, ``--quick`` about eight (the longest answers
alone take ten seconds on the large model, every strategy waits for its last one, and
each laneway run starts a fresh system).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvloop
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import SimProcess, laneway_over, percentile, sim_fleet
from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE, LANES
from laneway.sim.parsing import parse_completion_request
from laneway.sim.profiles import Profile, get_profile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEVSET = next(
    (
        path
        for path in (
            ROOT.parent / "shared" / "classifier-devset.jsonl",
            ROOT.parents[1] / "shared" / "classifier-devset.jsonl",
        )
        if path.is_file()
    ),
    ROOT.parent / "shared" / "classifier-devset.jsonl",
)
"""../shared/ beside the checkout, or two levels up from a worktree in /work/wt/<name>."""

MIX: dict[str, float] = {FAST_PATH: 0.50, GENERAL: 0.35, HIGH_COMPUTE: 0.15}
ANSWER_TOKENS: dict[str, tuple[int, int]] = {
    FAST_PATH: (40, 160),
    GENERAL: (80, 240),
    HIGH_COMPUTE: (200, 600),
}
"""Answer length by true label: uniform between the bounds."""
RIGHT_SIZE: dict[str, str] = {FAST_PATH: "small", GENERAL: "medium", HIGH_COMPUTE: "large"}
FLEET: tuple[tuple[str, str, int, dict[str, float]], ...] = (
    ("large-1", "large", 20, {}),
    ("medium-1", "medium", 7, {}),
    ("small-1", "small", 1, {}),
    (
        "small-2",
        "small",
        1,
        {"tokens_per_second": 320.0, "price_per_1k_input": 0.00008, "price_per_1k_output": 0.0003},
    ),
)
"""(name, profile, slots, overrides of the profile). Small servers with one slot each, as
llama.cpp serves by default; small-2 is an older, slower and cheaper card than small-1,
so fast-path has two backends that differ and the in-lane strategies have a choice."""
LANEWAY_STRATEGIES = (
    "least-in-flight",
    "weighted-round-robin",
    "power-of-two-choices",
    "peak-ewma",
    "lowest-cost",
    "affinity",
)
"""laneway's in-lane strategies; the first is its default."""
BATCH_SLOWDOWN = 0.04
"""Each extra active request makes a decoding step 4 % longer (an assumption, not a
measurement): with 20 active, each runs at 57 % of its solo speed and the server makes
11x the tokens/s of one request alone."""


# -- the fleet -------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    name: str
    profile: Profile
    slots: int
    batch_slowdown: float

    @property
    def capacity(self) -> float:
        """Solo-speed requests' worth of work done per second with every slot busy."""
        return self.slots / (1 + self.batch_slowdown * (self.slots - 1))

    @property
    def tokens_per_second(self) -> float:
        """The whole server's tokens/s with every slot busy."""
        return self.profile.tokens_per_second * self.capacity

    @property
    def budget(self) -> float:
        """Hardware budget: output price x tokens/s (USD/s when it sells every token)."""
        return self.profile.price_per_1k_output / 1000 * self.tokens_per_second

    @property
    def weight(self) -> float:
        """laneway's backend weight: the server's tokens/s with every slot busy."""
        return round(self.tokens_per_second)

    def sim_args(self) -> list[str]:
        return [
            *("--profile", self.profile.name, "--max-concurrency", str(self.slots)),
            *("--batch-slowdown", str(self.batch_slowdown)),
            *("--tokens-per-second", str(self.profile.tokens_per_second)),
            *("--price-input", str(self.profile.price_per_1k_input)),
            *("--price-output", str(self.profile.price_per_1k_output)),
        ]

    def work_seconds(self, answer_tokens: int) -> float:
        return self.profile.generation_seconds(answer_tokens)


def mixed_fleet(batch_slowdown: float) -> list[Server]:
    return [
        Server(
            name,
            get_profile(profile).with_overrides(
                tokens_per_second=overrides.get("tokens_per_second"),
                price_per_1k_input=overrides.get("price_per_1k_input"),
                price_per_1k_output=overrides.get("price_per_1k_output"),
            ),
            slots,
            batch_slowdown,
        )
        for name, profile, slots, overrides in FLEET
    ]


def large_only_fleet(fleet: list[Server]) -> list[Server]:
    """Large servers with the fleet's budget: as many as the budget buys whole (at least
    one), their slots set so that together they cost the budget."""
    large = next(s for s in fleet if s.profile.name == "large")
    budget = sum(s.budget for s in fleet)
    count = max(1, round(budget / large.budget))
    per_server = budget / count
    slots = min(
        range(1, 10 * large.slots),
        key=lambda n: abs(Server("", large.profile, n, large.batch_slowdown).budget - per_server),
    )
    return [
        Server(f"large-only-{i + 1}", large.profile, slots, large.batch_slowdown)
        for i in range(count)
    ]


# -- the traffic -----------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    index: int
    at: float
    """Seconds after the run's start."""
    phase: str
    item_id: str
    label: str
    messages: list[dict[str, Any]]
    answer_tokens: int
    prompt_tokens: int
    """As the sims count them."""

    def body(self, model: str) -> dict[str, Any]:
        return {
            "model": model,
            "messages": self.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "metadata": {"sim_answer_tokens": str(self.answer_tokens)},
        }


def load_devset(path: Path) -> dict[str, list[dict[str, Any]]]:
    if not path.is_file():
        raise SystemExit(f"dev set not found at {path}; pass --devset PATH")
    by_label: dict[str, list[dict[str, Any]]] = {lane: [] for lane in LANES}
    for line in path.read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            by_label[item["label"]].append(item)
    return by_label


def schedule(
    items: dict[str, list[dict[str, Any]]],
    rate: float,
    steady_seconds: float,
    burst_factor: float,
    burst_seconds: float,
    seed: int,
) -> list[Arrival]:
    """Poisson arrivals at ``rate`` for ``steady_seconds``, then at ``burst_factor`` x
    ``rate`` for ``burst_seconds``; labels drawn by MIX, items and lengths at random."""
    rng = random.Random(seed)
    labels, weights = list(MIX), list(MIX.values())
    arrivals: list[Arrival] = []
    phases = [("steady", rate, steady_seconds), ("burst", rate * burst_factor, burst_seconds)]
    start = 0.0
    for phase, phase_rate, seconds in phases:
        at = start + rng.expovariate(phase_rate)
        while at < start + seconds:
            label = rng.choices(labels, weights)[0]
            item = rng.choice(items[label])
            messages = item["request"]["messages"]
            prompt = parse_completion_request("chat", {"model": "x", "messages": messages})
            arrivals.append(
                Arrival(
                    index=len(arrivals),
                    at=at,
                    phase=phase,
                    item_id=item["id"],
                    label=label,
                    messages=messages,
                    answer_tokens=rng.randint(*ANSWER_TOKENS[label]),
                    prompt_tokens=prompt.prompt_tokens,
                )
            )
            at += rng.expovariate(phase_rate)
        start += seconds
    return arrivals


def cost_of(profile: Profile, prompt_tokens: int, completion_tokens: int) -> float:
    return (
        prompt_tokens * profile.price_per_1k_input + completion_tokens * profile.price_per_1k_output
    ) / 1000


def planned_load(fleet: list[Server], arrivals: list[Arrival], seconds: float) -> dict[str, float]:
    """Expected share of busy slots per server when each request goes to its true pool:
    n active satisfies n = rate x work x (1 + B (n - 1)) (Little's law, shared speed)."""
    loads = {}
    for server in fleet:
        pool = [s for s in fleet if s.profile.name == server.profile.name]
        work = sum(
            server.work_seconds(a.answer_tokens)
            for a in arrivals
            if a.phase == "steady" and RIGHT_SIZE[a.label] == server.profile.name
        ) / (seconds * len(pool))
        b = server.batch_slowdown
        active = work if server.slots == 1 else work * (1 - b) / max(1e-9, 1 - work * b)
        loads[server.name] = active / server.slots
    return loads


# -- one request -----------------------------------------------------------------------


@dataclass
class Outcome:
    arrival: Arrival
    server: str | None = None
    ok: bool = False
    error: str | None = None
    latency: float | None = None
    ttft: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    job_id: str | None = None


FIRST_CONTENT = re.compile(rb'"content": ?"[^"]')
"""A content delta with text in it (the role chunk's ``"content":""`` does not match)."""
TAIL_BYTES = 16384


async def stream_chat(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], outcome: Outcome
) -> Outcome:
    """Send one streamed chat request and fill in ``outcome`` from its answer.

    Reads raw bytes: until the first token it searches them for a content delta, after
    that it keeps only the tail, where the usage chunk, an error event and ``[DONE]``
    come. Parsing every chunk would cost the shared CPU more than the sims do.
    """
    started = time.perf_counter()
    async with client.stream("POST", url, json=body) as response:
        outcome.server = response.headers.get("x-laneway-backend") or outcome.server
        outcome.job_id = response.headers.get("x-laneway-job-id")
        if response.status_code != 200:
            text = (await response.aread()).decode(errors="replace")
            outcome.error = f"HTTP {response.status_code}: {text[:200]}"
            return outcome
        seen = b""
        async for piece in response.aiter_raw():
            seen += piece
            if outcome.ttft is None:
                if FIRST_CONTENT.search(seen):
                    outcome.ttft = time.perf_counter() - started
            elif len(seen) > 2 * TAIL_BYTES:
                seen = seen[-TAIL_BYTES:]
        outcome.latency = time.perf_counter() - started
    events = [
        line[6:]
        for event in seen.split(b"\n\n")[-6:]
        for line in event.splitlines()
        if line.startswith(b"data: ")
    ]
    for data in events:
        if not data.startswith(b"{"):
            continue
        chunk = json.loads(data)
        if chunk.get("error"):
            outcome.error = str(chunk["error"].get("message", chunk["error"]))[:200]
        if chunk.get("usage"):
            outcome.prompt_tokens = chunk["usage"]["prompt_tokens"]
            outcome.completion_tokens = chunk["usage"]["completion_tokens"]
    done = bool(events) and events[-1] == b"[DONE]"
    outcome.ok = done and outcome.error is None and outcome.ttft is not None
    if not outcome.ok and outcome.error is None:
        outcome.error = "the stream ended early"
    return outcome


def http_client() -> httpx.AsyncClient:
    """No timeout (a queued request hears nothing until it has a slot); idle connections
    dropped after 2 s, before uvicorn's 5 s keep-alive ends them under a new request."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64, keepalive_expiry=2)
    return httpx.AsyncClient(timeout=None, limits=limits)


# -- strategies ------------------------------------------------------------------------


class LeastConnections:
    """Fewest open requests (nginx's least_conn); ties go round the servers in turn."""

    def __init__(self, servers: list[Server], open_requests: dict[str, int]) -> None:
        self.servers = servers
        self.open = open_requests
        self.turn = itertools.count()

    def pick(self, arrival: Arrival) -> Server:
        start = next(self.turn) % len(self.servers)
        order = self.servers[start:] + self.servers[:start]
        return min(order, key=lambda s: self.open[s.name])


class RoundRobin:
    def __init__(self, servers: list[Server]) -> None:
        self.cycle = itertools.cycle(servers)

    def pick(self, arrival: Arrival) -> Server:
        return next(self.cycle)


class SmoothWeighted:
    """nginx's smooth weighted round-robin."""

    def __init__(self, servers: list[Server], weights: list[float]) -> None:
        self.servers = servers
        self.weights = weights
        self.current = [0.0] * len(servers)

    def pick(self, arrival: Arrival) -> Server:
        for i, weight in enumerate(self.weights):
            self.current[i] += weight
        best = max(range(len(self.servers)), key=lambda i: self.current[i])
        self.current[best] -= sum(self.weights)
        return self.servers[best]


class Oracle:
    """The true label's pool; least-connections inside it."""

    def __init__(self, fleet: list[Server], open_requests: dict[str, int]) -> None:
        self.pools: dict[str, LeastConnections] = {
            label: LeastConnections(
                [s for s in fleet if s.profile.name == RIGHT_SIZE[label]], open_requests
            )
            for label in LANES
        }

    def pick(self, arrival: Arrival) -> Server:
        return self.pools[arrival.label].pick(arrival)


# -- running a strategy ----------------------------------------------------------------


@dataclass
class Run:
    strategy: str
    key: str = ""
    """rr, wrr, lc, large, oracle or laneway:<in-lane strategy>."""
    outcomes: list[Outcome] = field(default_factory=list)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each server's /admin/stats after the run."""
    steady_load: dict[str, float] = field(default_factory=dict)
    """Each server's share of busy slots over the steady phase after its warm-up."""
    seconds: float = 0.0
    """Wall time of the run, from the first arrival until the last answer."""
    notes: str = ""
    weights: dict[str, float] = field(default_factory=dict)
    """The weights a weighted strategy was given, per server (empty: none)."""
    laneway: bool = False
    """A laneway run: its backends' max_concurrency holds (the direct clients have none)."""
    records: dict[str, Any] = field(default_factory=dict)
    """laneway runs: what the job records say (routes by true label, stage times)."""


async def sim_stats(client: httpx.AsyncClient, sims: dict[str, SimProcess]) -> dict[str, Any]:
    answers = await asyncio.gather(*(client.get(sim.url + "/admin/stats") for sim in sims.values()))
    return {name: answer.json() for name, answer in zip(sims, answers, strict=True)}


async def reset_sims(client: httpx.AsyncClient, sims: dict[str, SimProcess]) -> None:
    await asyncio.gather(*(client.post(sim.url + "/admin/reset") for sim in sims.values()))


async def wait_idle(client: httpx.AsyncClient, sims: dict[str, SimProcess]) -> None:
    """Until no sim has a request in flight (requests cut off by the drain limit end)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = await sim_stats(client, sims)
        if all(s["in_flight"] == 0 for s in stats.values()):
            return
        await asyncio.sleep(0.2)


async def run_strategy(
    run: Run,
    arrivals: list[Arrival],
    sims: dict[str, SimProcess],
    send: Callable[[Arrival, Outcome], Coroutine[Any, Any, Outcome]],
    steady_seconds: float,
    drain_limit: float,
) -> Run:
    """Replay ``arrivals`` through ``send``; wait at most ``drain_limit`` after the last."""
    async with http_client() as client:
        await wait_idle(client, sims)
        await reset_sims(client, sims)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def measure_steady_load() -> None:
            # From a third of the way in: the long answers have filled the servers by then.
            begin = start + steady_seconds / 3
            await asyncio.sleep(max(0.0, begin - loop.time()))
            first = await sim_stats(client, sims)
            began = loop.time()
            await asyncio.sleep(max(0.0, start + steady_seconds - loop.time()))
            last = await sim_stats(client, sims)
            elapsed = loop.time() - began
            run.steady_load = {
                name: (last[name]["busy_slot_seconds"] - first[name]["busy_slot_seconds"])
                / (last[name]["slots"] * elapsed)
                for name in sims
            }

        snapshot = asyncio.create_task(measure_steady_load())
        tasks: dict[asyncio.Task[Outcome], Outcome] = {}
        for arrival in arrivals:
            delay = start + arrival.at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            outcome = Outcome(arrival)
            tasks[asyncio.create_task(send(arrival, outcome))] = outcome
        await snapshot
        done, pending = await asyncio.wait(tasks, timeout=drain_limit)
        for task in pending:
            task.cancel()
            tasks[task].error = f"unfinished {drain_limit:g} s after the last arrival"
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                tasks[task].error = f"{type(task.exception()).__name__}: {task.exception()}"
        run.outcomes = sorted(tasks.values(), key=lambda o: o.arrival.index)
        run.seconds = loop.time() - start
        await wait_idle(client, sims)
        run.stats = await sim_stats(client, sims)
    return run


def direct_sender(
    client: httpx.AsyncClient,
    sims: dict[str, SimProcess],
    pick: Callable[[Arrival], Server],
    open_requests: dict[str, int],
) -> Callable[[Arrival, Outcome], Coroutine[Any, Any, Outcome]]:
    async def send(arrival: Arrival, outcome: Outcome) -> Outcome:
        server = pick(arrival)
        outcome.server = server.name
        open_requests[server.name] += 1
        try:
            url = sims[server.name].url + "/v1/chat/completions"
            return await stream_chat(client, url, arrival.body(server.profile.model), outcome)
        finally:
            open_requests[server.name] -= 1

    return send


# -- the report ------------------------------------------------------------------------


def summarize(run: Run, servers: dict[str, Server], all_large_cost: float) -> dict[str, Any]:
    ok = [o for o in run.outcomes if o.ok]

    def spread(outcomes: list[Outcome]) -> dict[str, float | None]:
        latencies = [o.latency * 1000 for o in outcomes if o.latency is not None]
        ttfts = [o.ttft * 1000 for o in outcomes if o.ttft is not None]
        return {
            "latency_p50_ms": percentile(latencies, 50) if latencies else None,
            "latency_p90_ms": percentile(latencies, 90) if latencies else None,
            "latency_p99_ms": percentile(latencies, 99) if latencies else None,
            "ttft_p50_ms": percentile(ttfts, 50) if ttfts else None,
            "ttft_p99_ms": percentile(ttfts, 99) if ttfts else None,
        }

    cost = 0.0
    misses = {"high-compute below large": 0, "general on small": 0}
    for o in ok:
        profile = servers[o.server].profile if o.server in servers else None
        if profile is None:
            continue
        cost += cost_of(profile, o.prompt_tokens, o.completion_tokens)
        if o.arrival.label == HIGH_COMPUTE and profile.name != "large":
            misses["high-compute below large"] += 1
        if o.arrival.label == GENERAL and profile.name == "small":
            misses["general on small"] += 1
    backends = {}
    for name, stats in run.stats.items():
        server = servers[name]
        backends[name] = {
            "slots": server.slots,
            "peak_in_flight": stats["peak_in_flight"],
            "peak_active": stats["peak_active"],
            "peak_queued": stats["peak_queued"],
            "steady_load": run.steady_load.get(name, 0.0),
            "completed": stats["completed"],
        }
    errors: dict[str, int] = {}
    for o in run.outcomes:
        if not o.ok:
            errors[o.error or "?"] = errors.get(o.error or "?", 0) + 1
    served = {name: sum(o.server == name for o in ok) for name in run.weights}
    total_weight, total_served = sum(run.weights.values()), sum(served.values())
    shares = {
        name: {
            "served": served[name],
            "share": served[name] / total_served if total_served else None,
            "weight_share": weight / total_weight,
        }
        for name, weight in run.weights.items()
    }
    return {
        "strategy": run.strategy,
        "key": run.key,
        "laneway": run.laneway,
        "records": run.records,
        "weighted_shares": shares,
        "notes": run.notes,
        "seconds": run.seconds,
        "requests": len(run.outcomes),
        "failed": len(run.outcomes) - len(ok),
        "errors": errors,
        **spread(ok),
        "per_label": {
            label: {
                "requests": sum(o.arrival.label == label for o in run.outcomes),
                **spread([o for o in ok if o.arrival.label == label]),
            }
            for label in LANES
        },
        "cost_usd": cost,
        "saved_vs_all_large": 1 - cost / all_large_cost if all_large_cost else None,
        "quality_misses": sum(misses.values()),
        "quality_misses_by_kind": misses,
        "backends": backends,
        "outcomes": [
            {
                "index": o.arrival.index,
                "phase": o.arrival.phase,
                "label": o.arrival.label,
                "item": o.arrival.item_id,
                "answer_tokens": o.arrival.answer_tokens,
                "server": o.server,
                "ok": o.ok,
                "error": o.error,
                "latency_ms": None if o.latency is None else round(o.latency * 1000, 1),
                "ttft_ms": None if o.ttft is None else round(o.ttft * 1000, 1),
            }
            for o in run.outcomes
        ],
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def over_limit(summary: dict[str, Any]) -> list[str]:
    return [
        f"{n} {b['peak_in_flight']}/{b['slots']}"
        for n, b in summary["backends"].items()
        if b["peak_in_flight"] > b["slots"]
    ]


def share_gap(summary: dict[str, Any]) -> float:
    """The largest gap between a server's share of the answers and its weight's share,
    relative to the weight's share."""
    return max(
        (
            abs((x["share"] or 0.0) - x["weight_share"]) / x["weight_share"]
            for x in summary["weighted_shares"].values()
        ),
        default=0.0,
    )


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def print_report(console: Console, summaries: list[dict[str, Any]], bound: float) -> None:
    table = Table(title="Routing benchmark: the same arrivals, one strategy after the other")
    for column in (
        "strategy",
        "latency p50 / p99",
        "TTFT p50 / p99",
        "fast-path p90",
        "cost",
        "saved vs all-large",
        "quality misses",
        "failed",
        "over limit",
    ):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for s in summaries:
        table.add_row(
            s["strategy"],
            f"{_ms(s['latency_p50_ms'])} / {_ms(s['latency_p99_ms'])}",
            f"{_ms(s['ttft_p50_ms'])} / {_ms(s['ttft_p99_ms'])}",
            _ms(s["per_label"][FAST_PATH]["latency_p90_ms"]),
            f"${s['cost_usd']:.4f}",
            f"{s['saved_vs_all_large']:.0%}" if s["saved_vs_all_large"] is not None else "-",
            f"{s['quality_misses']} ({s['quality_misses'] / max(1, s['requests']):.0%})",
            str(s["failed"]),
            ", ".join(over_limit(s)) or "none",
        )
    console.print(table)
    console.print(
        "over limit: backends whose sim ever had more requests open (active + queued inside "
        "it) than its slots; laneway's max_concurrency = the slots, so only the direct, "
        "quality-blind clients may (they queue in the sim as nginx would)"
    )
    console.print(
        f"cost-saving bound at this mix: {bound:.0%} of the all-large cost need not be spent "
        "(every request on its right-sized model)"
    )

    per_label = Table(title="by true label: latency p50 / p99, TTFT p50 / p99")
    per_label.add_column("strategy")
    for label in LANES:
        per_label.add_column(f"{label} latency", justify="right")
        per_label.add_column(f"{label} TTFT", justify="right")
    for s in summaries:
        cells = []
        for label in LANES:
            x = s["per_label"][label]
            cells.append(f"{_ms(x['latency_p50_ms'])} / {_ms(x['latency_p99_ms'])}")
            cells.append(f"{_ms(x['ttft_p50_ms'])} / {_ms(x['ttft_p99_ms'])}")
        per_label.add_row(s["strategy"], *cells)
    console.print(per_label)

    backends = Table(
        title="per backend: busy slots in the steady phase, peak requests open in the sim "
        "(max over the run, the sim's own counter) / its slots = laneway's max_concurrency, "
        "peak queued inside the sim"
    )
    backends.add_column("strategy")
    backends.add_column("backends", justify="left")
    for s in summaries:
        backends.add_row(
            s["strategy"],
            "; ".join(
                f"{n} {b['steady_load']:.0%}, {b['peak_in_flight']}/{b['slots']}, "
                f"queued {b['peak_queued']}"
                for n, b in s["backends"].items()
            ),
        )
    console.print(backends)
    for s in summaries:
        if s["weighted_shares"]:
            console.print(
                f"{s['strategy']}: served / weight share "
                + ", ".join(
                    f"{n} {_pct(x['share'])} / {x['weight_share']:.0%}"
                    for n, x in s["weighted_shares"].items()
                )
                + f" (largest relative gap {share_gap(s):.0%})"
            )
    for s in summaries:
        if s["errors"]:
            console.print(f"{s['strategy']} failures: {s['errors']}")
        if s["notes"]:
            console.print(f"{s['strategy']}: {s['notes']}")


# -- the targets (issue 11) ------------------------------------------------------------

Verdict = tuple[bool, str] | None
"""Met or not, and the numbers; None where a target does not apply."""


def _lower(value: float | None, base: float | None, needed: float) -> Verdict:
    if value is None or not base:
        return None
    drop = 1 - value / base
    return drop >= needed, f"{drop:.0%} lower ({_ms(value)} vs {_ms(base)})"


def _near(value: float | None, oracle: float | None, show: Callable[[float], str]) -> Verdict:
    if value is None or not oracle:
        return None
    ratio = value / oracle - 1
    return ratio <= 0.10, f"{ratio:+.0%} ({show(value)} vs {show(oracle)})"


def _fewer_misses(run: dict[str, Any], base: dict[str, Any]) -> Verdict:
    mine, theirs = run["quality_misses"], base["quality_misses"]
    if not theirs:
        return mine == 0, f"{mine} vs {theirs}"
    return mine <= 0.1 * theirs, f"{1 - mine / theirs:.0%} fewer ({mine} vs {theirs})"


def _fast_p90(run: dict[str, Any]) -> float | None:
    value: float | None = run["per_label"][FAST_PATH]["latency_p90_ms"]
    return value


def check_targets(
    summaries: list[dict[str, Any]], bound: float
) -> list[tuple[str, dict[str, Verdict]]]:
    """Issue 11's targets, for each laneway run against the baselines of the same run."""
    by_key = {s["key"]: s for s in summaries}
    runs = [s for s in summaries if s["laneway"]]
    rows: list[tuple[str, dict[str, Verdict]]] = []

    def row(target: str, verdict: Callable[[dict[str, Any]], Verdict]) -> None:
        rows.append((target, {s["strategy"]: verdict(s) for s in runs}))

    if large := by_key.get("large"):
        row(
            "p50 latency >= 40% below large-only",
            lambda s: _lower(s["latency_p50_ms"], large["latency_p50_ms"], 0.40),
        )
        row(
            "cost saving >= 80% of the bound",
            lambda s: (
                s["saved_vs_all_large"] >= 0.8 * bound,
                f"{s['saved_vs_all_large'] / bound:.0%} of it ({s['saved_vs_all_large']:.0%} "
                f"of {bound:.0%})",
            ),
        )
    for key, name in (("rr", "round-robin"), ("lc", "least-conn"), ("wrr", "weighted RR")):
        if base := by_key.get(key):
            row(f">= 90% fewer quality misses than {name}", lambda s, b=base: _fewer_misses(s, b))
            row(
                f"fast-path p90 >= 40% below {name}",
                lambda s, b=base: _lower(_fast_p90(s), _fast_p90(b), 0.40),
            )
    if oracle := by_key.get("oracle"):
        for metric, field_name in (("p50", "latency_p50_ms"), ("p99", "latency_p99_ms")):
            row(
                f"{metric} latency within 10% of the oracle",
                lambda s, f=field_name: _near(s[f], oracle[f], _ms),
            )
        row(
            "cost within 10% of the oracle",
            lambda s: _near(s["cost_usd"], oracle["cost_usd"], lambda x: f"${x:.4f}"),
        )
    row("no job failed", lambda s: (s["failed"] == 0, f"{s['failed']} of {s['requests']}"))
    row(
        "no backend above its max_concurrency",
        lambda s: (
            not over_limit(s),
            ", ".join(over_limit(s))
            or "peaks "
            + ", ".join(f"{b['peak_in_flight']}/{b['slots']}" for b in s["backends"].values()),
        ),
    )
    row(
        "WRR shares within 10% of the weights",
        lambda s: (
            (share_gap(s) <= 0.10, f"largest gap {share_gap(s):.0%}")
            if s["key"] == "laneway:weighted-round-robin"
            else None
        ),
    )
    return rows


def print_targets(
    console: Console, rows: list[tuple[str, dict[str, Verdict]]], default: str | None
) -> None:
    if not rows:
        return
    table = Table(title="Targets (issue 11): laneway against the baselines of this run")
    table.add_column("target")
    runs = list(rows[0][1])
    for name in runs:
        table.add_column(name.removeprefix("laneway: ") if name != default else name)
    for target, verdicts in rows:
        cells = []
        for name in runs:
            verdict = verdicts[name]
            if verdict is None:
                cells.append("-")
            elif name == default:
                cells.append(f"{'[green]PASS' if verdict[0] else '[red]MISS'}[/] {verdict[1]}")
            else:
                cells.append("[green]PASS[/]" if verdict[0] else "[red]MISS[/]")
        table.add_row(target, *cells)
    console.print(table)
    for name in runs:
        if name == default:
            continue
        console.print(f"[bold]{name}[/]:")
        for target, verdicts in rows:
            verdict = verdicts[name]
            if verdict is not None:
                console.print(f"  {'PASS' if verdict[0] else 'MISS'} {target}: {verdict[1]}")


def laneway_overhead(
    oracle: Run, laneway: Run, servers: dict[str, Server]
) -> dict[str, float] | None:
    """What laneway adds to a request that went where the oracle sent it: classification,
    two queue hops, the lane worker, the API's stream."""
    ttft: list[float] = []
    latency: list[float] = []
    for o, w in zip(oracle.outcomes, laneway.outcomes, strict=True):
        if o.arrival.phase != "steady" or not (o.ok and w.ok):
            continue
        if o.server not in servers or w.server not in servers:
            continue
        if servers[o.server].profile.name != servers[w.server].profile.name:
            continue
        assert o.ttft is not None and w.ttft is not None
        assert o.latency is not None and w.latency is not None
        ttft.append((w.ttft - o.ttft) * 1000)
        latency.append((w.latency - o.latency) * 1000)
    if not ttft:
        return None
    return {
        "requests": len(ttft),
        "ttft_ms": statistics.median(ttft),
        "latency_ms": statistics.median(latency),
    }


def oracle_gap(oracle: Run, laneway: Run, servers: dict[str, Server]) -> dict[str, Any] | None:
    """Where laneway's distance from the oracle comes from: the requests it answered with
    another size of model than the oracle (the classifier's misroutes), and what laneway's
    p50 / p99 and cost would be had those requests gone where the oracle sent them (their
    latency and cost taken from the oracle's run); the rest is queueing and overhead."""
    moved_cost = 0.0
    latencies: list[float] = []
    misrouted: dict[str, int] = {}
    pairs = zip(oracle.outcomes, laneway.outcomes, strict=True)
    for o, w in pairs:
        if not (o.ok and w.ok) or o.server not in servers or w.server not in servers:
            continue
        assert o.latency is not None and w.latency is not None
        mine, right = servers[w.server].profile, servers[o.server].profile
        if mine.name == right.name:
            latencies.append(w.latency * 1000)
            continue
        kind = f"{o.arrival.label} on {mine.name}"
        misrouted[kind] = misrouted.get(kind, 0) + 1
        latencies.append(o.latency * 1000)
        moved_cost += cost_of(mine, w.prompt_tokens, w.completion_tokens) - cost_of(
            right, o.prompt_tokens, o.completion_tokens
        )
    if not latencies:
        return None
    return {
        "misrouted": misrouted,
        "misroutes_extra_cost_usd": moved_cost,
        "p50_ms_if_routed_right": percentile(latencies, 50),
        "p99_ms_if_routed_right": percentile(latencies, 99),
    }


# -- main ------------------------------------------------------------------------------


def spillover(
    to: list[str], after: float, max_confidence: float | None
) -> dict[str, dict[str, Any]]:
    """The lanes' spillover settings for the ``laneway + spillover`` run: fast-path's
    queue (two one-slot servers) overflows into the lanes ``to`` after ``after``
    seconds; high-compute jobs placed with at most ``max_confidence`` run in general
    after a second's wait (None: not)."""
    rules: dict[str, dict[str, Any]] = {"fast-path": {"to": to, "after_seconds": after}}
    if max_confidence is not None:
        rules["high-compute"] = {
            "to": ["general"],
            "after_seconds": None,
            "max_confidence": max_confidence,
            "low_confidence_after_seconds": 1.0,
        }
    return rules


def laneway_lanes(
    fleet: list[Server],
    sims: dict[str, SimProcess],
    spill: dict[str, dict[str, Any]] | None = None,
    balancing: str | None = None,
) -> dict[str, Any]:
    """Each lane: its pool's servers as backends (weight = tokens/s, max_concurrency =
    slots), concurrency = the pool's slots; ``balancing`` None keeps laneway's default."""
    lanes: dict[str, Any] = {}
    for lane in LANES:
        pool = [s for s in fleet if s.profile.name == RIGHT_SIZE[lane]]
        lanes[lane] = {
            "concurrency": sum(s.slots for s in pool),
            "backends": [
                {
                    "name": s.name,
                    "base_url": sims[s.name].url + "/v1",
                    "model": s.profile.model,
                    "weight": s.weight,
                    "max_concurrency": s.slots,
                    "context_window": s.profile.context_window,
                    "price_per_1k_input": s.profile.price_per_1k_input,
                    "price_per_1k_output": s.profile.price_per_1k_output,
                }
                for s in pool
            ],
        }
        if spill and lane in spill:
            lanes[lane]["spillover"] = spill[lane]
        if balancing is not None:
            lanes[lane]["balancing"] = balancing
    return lanes


async def run_laneway(
    api_url: str,
    arrivals: list[Arrival],
    sims: dict[str, SimProcess],
    steady_seconds: float,
    drain_limit: float,
    name: str = "laneway",
    key: str = "laneway",
    weights: dict[str, float] | None = None,
) -> Run:
    async with http_client() as client:
        url = api_url + "/v1/chat/completions"
        # One request per label first (not measured): connections, the classifier's
        # first call, the workers' first backend calls.
        for arrival in {a.label: a for a in arrivals}.values():
            await stream_chat(client, url, arrival.body("auto"), Outcome(arrival))

        async def send(arrival: Arrival, outcome: Outcome) -> Outcome:
            return await stream_chat(client, url, arrival.body("auto"), outcome)

        run = Run(name, key=key, laneway=True, weights=weights or {})
        await run_strategy(run, arrivals, sims, send, steady_seconds, drain_limit)
        routes: dict[str, dict[str, int]] = {label: {} for label in LANES}
        """True label -> the lane the classifier chose -> jobs."""
        classify_ms: list[float] = []
        wait_by_label: dict[str, list[float]] = {label: [] for label in LANES}
        """Seconds from routing until a lane worker took the job, by true label."""
        strategies: dict[str, int] = {}
        spilled: dict[str, int] = {}
        classified: dict[str, list[float]] = {}
        """Seconds from submission until a worker took the job, by the lane classified into."""
        costs = 0.0
        stages: dict[str, list[float]] = {"classified": [], "started": [], "first token": []}
        for outcome in run.outcomes:
            if outcome.job_id is None:
                continue
            job = (await client.get(f"{api_url}/v1/jobs/{outcome.job_id}")).json()
            outcome.server = outcome.server or job.get("backend")
            strategy = job.get("strategy") or "?"
            strategies[strategy] = strategies.get(strategy, 0) + 1
            costs += job.get("cost") or 0.0
            first_lane = job.get("lane")
            if job.get("created_at") and job.get("routed_at"):
                classify_ms.append((job["routed_at"] - job["created_at"]) * 1000)
            if job.get("spillover"):
                first_lane = job["spillover"]["from_lane"]
                moved = f"{first_lane}→{job['spillover']['to_lane']}"
                spilled[moved] = spilled.get(moved, 0) + 1
            true_routes = routes[outcome.arrival.label]
            true_routes[str(first_lane)] = true_routes.get(str(first_lane), 0) + 1
            if job.get("started_at") and job.get("routed_at"):
                taken = job["started_at"] - job["routed_at"]
                classified.setdefault(str(first_lane), []).append(taken)
                wait_by_label[outcome.arrival.label].append(taken)
            if outcome.arrival.phase == "steady" and job.get("started_at") and job.get("ttft_ms"):
                # Seconds after submission: classified, taken by a lane worker, first token.
                created = job["created_at"]
                stages["classified"].append((job["routed_at"] - created) * 1000)
                stages["started"].append((job["started_at"] - created) * 1000)
                stages["first token"].append(
                    (job["attempts"][-1]["started_at"] - created) * 1000 + job["ttft_ms"]
                )
        medians = ", ".join(
            f"{stage} {statistics.median(values):.0f} ms"
            for stage, values in stages.items()
            if values
        )
        run.notes = (
            f"classifier strategy per job: {strategies}; laneway's own cost record ${costs:.4f}; "
            f"steady phase, median time after submission until: {medians}"
        )
        waits = ", ".join(
            f"{lane} p99 {percentile(values, 99):.2f} s max {max(values):.2f} s"
            for lane, values in sorted(classified.items())
        )
        run.notes += f"; routed until taken by a worker, by the lane classified into: {waits}"
        run.notes += f"; spilled {spilled or 'none'}"
        misroutes = {
            f"{label}→{lane}": n
            for label, lanes in routes.items()
            for lane, n in lanes.items()
            if lane != label
        }
        run.notes += (
            f"; classified into another lane than the true label: {sum(misroutes.values())} "
            f"{misroutes}; classify stage (submitted → routed) p50 "
            f"{percentile(classify_ms, 50):.0f} ms p99 {percentile(classify_ms, 99):.0f} ms"
            if classify_ms
            else ""
        )
        run.records = {
            "routes_by_true_label": routes,
            "misroutes": misroutes,
            "classify_ms": {
                "p50": percentile(classify_ms, 50) if classify_ms else None,
                "p99": percentile(classify_ms, 99) if classify_ms else None,
            },
            "wait_routed_to_taken_s_by_true_label": {
                label: {
                    "p50": percentile(values, 50),
                    "p99": percentile(values, 99),
                    "max": max(values),
                }
                for label, values in wait_by_label.items()
                if values
            },
            "stages_steady_p50_ms": {
                stage: statistics.median(values) for stage, values in stages.items() if values
            },
            "classifier_strategy": strategies,
            "laneway_cost_record_usd": costs,
        }
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer requests (115): about eight minutes"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=8.5, help="steady arrivals per second")
    parser.add_argument("--seconds", type=float, help="steady phase [default 20, quick 6]")
    parser.add_argument("--burst-factor", type=float, default=3.0)
    parser.add_argument("--burst-seconds", type=float, help="[default 4, quick 2]")
    parser.add_argument("--drain-limit", type=float, help="[default 60, quick 30] seconds")
    parser.add_argument("--batch-slowdown", type=float, default=BATCH_SLOWDOWN)
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument(
        "--only",
        help="comma-separated subset: rr,wrr,lc,large,oracle,laneway (one run per "
        "--strategies) [default: all of these], and spill (laneway + spillover, only when "
        "named)",
    )
    parser.add_argument(
        "--spill-after", type=float, default=1.0, help="spill run: fast-path's age limit"
    )
    parser.add_argument(
        "--spill-to",
        default="general,high-compute",
        help="spill run: the lanes fast-path overflows into, in order",
    )
    parser.add_argument(
        "--spill-confidence",
        type=float,
        default=None,
        help="spill run: high-compute jobs placed with at most this confidence move to "
        "general [default: not]",
    )
    parser.add_argument(
        "--strategies",
        default=",".join(LANEWAY_STRATEGIES),
        help="laneway's in-lane strategies to run, one laneway run each [default: all; "
        "least-in-flight is laneway's default]",
    )
    parser.add_argument(
        "--workers-per-lane",
        type=int,
        default=2,
        help="lane worker processes per lane in the laneway runs (max_concurrency must "
        "hold across them)",
    )
    args = parser.parse_args()
    steady = args.seconds or (6.0 if args.quick else 20.0)
    burst = args.burst_seconds or (2.0 if args.quick else 4.0)
    drain = args.drain_limit or (30.0 if args.quick else 60.0)
    only = set((args.only or "rr,wrr,lc,large,oracle,laneway").split(","))
    in_lane = args.strategies.split(",")
    if unknown := set(in_lane) - set(LANEWAY_STRATEGIES):
        raise SystemExit(f"unknown strategies {sorted(unknown)}; known: {LANEWAY_STRATEGIES}")

    console = Console(width=max(140, Console().width))
    arrivals = schedule(
        load_devset(args.devset), args.rate, steady, args.burst_factor, burst, args.seed
    )
    fleet = mixed_fleet(args.batch_slowdown)
    large_only = large_only_fleet(fleet)
    servers = {s.name: s for s in [*fleet, *large_only]}
    large = get_profile("large")
    all_large = sum(cost_of(large, a.prompt_tokens, a.answer_tokens) for a in arrivals)
    right_sized = sum(
        cost_of(get_profile(RIGHT_SIZE[a.label]), a.prompt_tokens, a.answer_tokens)
        for a in arrivals
    )
    bound = 1 - right_sized / all_large
    counts = {label: sum(a.label == label for a in arrivals) for label in LANES}
    plan = planned_load(fleet, arrivals, steady)
    load_before = os.getloadavg()
    console.print(
        f"[bold]{len(arrivals)} requests[/]: {steady:g} s of Poisson arrivals at "
        f"{args.rate:g}/s, then {burst:g} s at {args.rate * args.burst_factor:g}/s; seed "
        f"{args.seed}; true labels {counts} (mix drawn at "
        + ", ".join(f"{label} {share:.0%}" for label, share in MIX.items())
        + "); answer tokens by label "
        + ", ".join(f"{label} {lo}-{hi}" for label, (lo, hi) in ANSWER_TOKENS.items())
    )
    for name, group in (("fleet", fleet), ("large-only fleet", large_only)):
        console.print(
            f"{name}: "
            + "; ".join(
                f"{s.name} ({s.profile.tokens_per_second:g} tok/s alone, {s.slots} slots, "
                f"{s.tokens_per_second:.0f} tok/s full, ${s.profile.price_per_1k_input:g}/"
                f"${s.profile.price_per_1k_output:g} per 1k in/out, budget "
                f"{s.budget * 3600:.2f} $/h, laneway weight {s.weight:g})"
                for s in group
            )
        )
    console.print(
        f"batch slowdown {args.batch_slowdown:g}; oracle load planned "
        + ", ".join(f"{n} {v:.0%}" for n, v in plan.items())
        + f"; load average before {load_before[0]:.2f}"
    )

    specs = [(s.name, s.sim_args()) for s in servers.values()]
    with sim_fleet(specs) as started:
        sims = {sim.name: sim for sim in started}
        fleet_sims = {s.name: sims[s.name] for s in fleet}
        large_sims = {s.name: sims[s.name] for s in large_only}
        runs: list[Run] = []

        async def direct_runs() -> None:
            open_requests = dict.fromkeys(servers, 0)
            async with http_client() as client:
                strategies: list[tuple[str, str, list[Server], Callable[[Arrival], Server]]] = [
                    ("rr", "round-robin", fleet, RoundRobin(fleet).pick),
                    (
                        "wrr",
                        "weighted RR (by slots)",
                        fleet,
                        SmoothWeighted(fleet, [s.slots for s in fleet]).pick,
                    ),
                    (
                        "lc",
                        "least-connections",
                        fleet,
                        LeastConnections(fleet, open_requests).pick,
                    ),
                    (
                        "large",
                        "large only, same budget",
                        large_only,
                        LeastConnections(large_only, open_requests).pick,
                    ),
                    ("oracle", "oracle", fleet, Oracle(fleet, open_requests).pick),
                ]
                for key, name, group, pick in strategies:
                    if key not in only:
                        continue
                    group_sims = large_sims if group is large_only else fleet_sims
                    send = direct_sender(client, sims, pick, open_requests)
                    weights = {s.name: float(s.slots) for s in fleet} if key == "wrr" else {}
                    run = Run(name, key=key, weights=weights)
                    await run_strategy(run, arrivals, group_sims, send, steady, drain)
                    runs.append(run)
                    console.print(f"ran {name}: {run.seconds:.0f} s")

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(direct_runs())
            if "laneway" in only:
                # fast-path is the lane with two backends: the strategies differ there.
                pool = [s for s in fleet if s.profile.name == RIGHT_SIZE[FAST_PATH]]
                for strategy in in_lane:
                    default = strategy == LANEWAY_STRATEGIES[0]
                    name = "laneway" if default else f"laneway: {strategy}"
                    console.print(f"starting {name} ({args.workers_per_lane} workers per lane) ...")
                    started_at = time.monotonic()
                    lanes = laneway_lanes(fleet, sims, balancing=None if default else strategy)
                    with laneway_over(lanes, workers_per_lane=args.workers_per_lane) as system:
                        ready = time.monotonic() - started_at
                        run = runner.run(
                            run_laneway(
                                system.api_url,
                                arrivals,
                                fleet_sims,
                                steady,
                                drain,
                                name,
                                f"laneway:{strategy}",
                                {s.name: s.weight for s in pool},
                            )
                        )
                        runs.append(run)
                        console.print(f"ran {name}: {run.seconds:.0f} s (ready in {ready:.0f} s)")
            if "spill" in only:
                rules = spillover(args.spill_to.split(","), args.spill_after, args.spill_confidence)
                console.print(f"starting laneway with spillover {rules} ...")
                lanes = laneway_lanes(fleet, sims, rules)
                with laneway_over(lanes, workers_per_lane=args.workers_per_lane) as system:
                    run = runner.run(
                        run_laneway(
                            system.api_url,
                            arrivals,
                            fleet_sims,
                            steady,
                            drain,
                            "laneway + spillover",
                            "laneway+spill",
                        )
                    )
                    runs.append(run)
                    console.print(f"ran laneway + spillover: {run.seconds:.0f} s")

    summaries = [summarize(run, servers, all_large) for run in runs]
    load_after = os.getloadavg()
    print_report(console, summaries, bound)
    targets = check_targets(summaries, bound)
    by_name = {run.strategy: run for run in runs}
    overhead = None
    if "oracle" in by_name and "laneway" in by_name:
        overhead = laneway_overhead(by_name["oracle"], by_name["laneway"], servers)
        if overhead:
            console.print(
                f"laneway against the oracle, the same {overhead['requests']} steady-phase "
                "requests answered by the same size of model: time to first token "
                f"+{overhead['ttft_ms']:.0f} ms, latency +{overhead['latency_ms']:.0f} ms "
                "(medians of the differences)"
            )
    gaps: dict[str, Any] = {}
    if "oracle" in by_name:
        oracle_summary = next(x for x in summaries if x["key"] == "oracle")
        for run in runs:
            if not run.laneway or not (gap := oracle_gap(by_name["oracle"], run, servers)):
                continue
            gaps[run.strategy] = gap
            summary = next(x for x in summaries if x["strategy"] == run.strategy)
            console.print(
                f"{run.strategy} against the oracle: {sum(gap['misrouted'].values())} requests "
                f"on another size of model ({gap['misrouted']}) cost "
                f"${gap['misroutes_extra_cost_usd']:.4f} more (of a gap of "
                f"${summary['cost_usd'] - oracle_summary['cost_usd']:.4f}); with those "
                f"requests answered as in the oracle's run, p50 "
                f"{_ms(gap['p50_ms_if_routed_right'])} (measured "
                f"{_ms(summary['latency_p50_ms'])}, oracle "
                f"{_ms(oracle_summary['latency_p50_ms'])}), p99 "
                f"{_ms(gap['p99_ms_if_routed_right'])}"
            )
    print_targets(console, targets, "laneway" if "laneway" in by_name else None)
    console.print(
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        f"({os.cpu_count()} cores)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "arrivals": len(arrivals),
                    "labels": counts,
                    "mix": MIX,
                    "answer_tokens": ANSWER_TOKENS,
                    "rate": args.rate,
                    "steady_seconds": steady,
                    "burst_factor": args.burst_factor,
                    "burst_seconds": burst,
                    "seed": args.seed,
                    "batch_slowdown": args.batch_slowdown,
                    "fleet": [asdict(s) | {"budget_per_hour": s.budget * 3600} for s in fleet],
                    "large_only_fleet": [
                        asdict(s) | {"budget_per_hour": s.budget * 3600} for s in large_only
                    ],
                    "planned_oracle_load": plan,
                    "cost_saving_bound": bound,
                    "all_large_cost_usd": all_large,
                    "load_average": [load_before[0], load_after[0]],
                    "laneway_overhead": overhead,
                    "oracle_gap": gaps,
                    "targets": [
                        {"target": target, "runs": verdicts} for target, verdicts in targets
                    ],
                    "strategies": summaries,
                },
                indent=2,
                default=str,
            )
        )
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
