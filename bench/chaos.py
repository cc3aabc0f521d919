"""Chaos run: submit jobs while killing workers and breaking backends; nothing may be lost.

One system on loopback (embedded Redis with AOF, two sim backends and two worker
processes per lane, the classifier, the API), on the default settings users run
(``--short-timeouts`` shortens the worker, retry and visibility timeouts), then,
at the same time:
  - ``--jobs`` jobs submitted through ``POST /v1/jobs`` with prompts for every
    lane, some streaming, some low or high priority;
  - for ``--chaos-seconds``, at random intervals: SIGKILL a lane worker (a
    replacement starts after a moment), SIGKILL the classifier, switch a sim
    backend down, give one error / rate-limit / hang faults, or kill a sim
    backend's process and start it again on the same port.
Everything is made healthy again, then every job must reach a final state.

Prints submitted, succeeded, failed, dead-lettered, lost (must be 0), duplicated
results (must be 0) and jobs still unfinished 60 s after the chaos ended (must be
0), the kills of each kind and the wall time; exits 1 when a job was lost,
duplicated or stuck, and prints what happened to it.

    python bench/chaos.py [--jobs 300] [--chaos-seconds 60] [--seed 7] [--short-timeouts]
"""

from __future__ import annotations

import json
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BenchSystem, SimProcess, laneway_system
from laneway import keys
from laneway.lanes import LANES

FINAL = {"succeeded", "failed", "cancelled"}
SIMS = {
    "fast-path": ["--profile", "small"],
    "general": ["--profile", "medium"],
    "high-compute": ["--profile", "large"],
}
PROMPTS = [
    "hi!",
    "thanks, bye",
    "what is the capital of France?",
    "Explain the difference between a process and a thread, with an everyday analogy please.",
    "Summarize the plot of Hamlet in three sentences.",
    "write a python function that merges two sorted lists",
    "Prove that there are infinitely many primes, step by step.",
]
# --short-timeouts: limits from before dead workers were found by their heartbeat
# (visibility 15 s > hard limit 10 s + max defer 2 s, a 60 s job deadline, backend
# calls time out after 4 s of silence), plus a 2 s heartbeat and a 6 s dead threshold.
SHORT_TIMEOUTS: dict[str, Any] = {
    "worker": {
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 4,
        "task_soft_time_limit": 8,
        "task_time_limit": 10,
        "visibility_timeout": 15,
        "heartbeat_interval_seconds": 2,
        "dead_after_seconds": 6,
    },
    "retry": {
        "job_deadline_seconds": 60,
        "breaker_cooldown_seconds": 2,
        "max_defer_seconds": 2,
        "health_probe_interval_seconds": 1,
    },
}
STUCK_AFTER_SECONDS = 60.0
"""A job not final this long after the chaos ended (everything healthy) is stuck."""
FAULT_SETS: list[dict[str, Any]] = [
    {"error_rate": 0.5},
    {"rate_limit_rate": 0.5},
    {"hang_rate": 0.3, "hang_seconds": 30},
    {"error_rate": 0.2, "rate_limit_rate": 0.2, "hang_rate": 0.1, "hang_seconds": 30},
]
HEALTHY = {"error_rate": 0.0, "rate_limit_rate": 0.0, "hang_rate": 0.0, "down": False}


@dataclass
class Submitted:
    ids: list[str] = field(default_factory=list)
    streaming: set[str] = field(default_factory=set)
    rejected: Counter[str] = field(default_factory=Counter)


def job_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": rng.choice(PROMPTS)}],
        "max_tokens": rng.randint(16, 160),
    }
    if rng.random() < 0.3:
        body["stream"] = True
    draw = rng.random()
    if draw < 0.15:
        body["priority"] = "low"
    elif draw < 0.25:
        body["priority"] = "high"
    return body


def submit_jobs(api_url: str, total: int, spread_seconds: float, seed: int, out: Submitted) -> None:
    """Submit ``total`` jobs evenly (with jitter) over ``spread_seconds``."""
    rng = random.Random(seed + 1)
    started = time.monotonic()
    with httpx.Client(base_url=api_url, timeout=10) as client:
        for i in range(total):
            due = started + spread_seconds * i / total
            time.sleep(max(0.0, due - time.monotonic()) * rng.uniform(0.5, 1.5))
            body = job_body(rng)
            try:
                response = client.post("/v1/jobs", json=body)
            except httpx.HTTPError as exc:
                out.rejected[type(exc).__name__] += 1
                continue
            if response.status_code != 202:
                out.rejected[str(response.status_code)] += 1
                continue
            job_id = response.json()["id"]
            out.ids.append(job_id)
            if body.get("stream"):
                out.streaming.add(job_id)


class Chaos:
    """Random faults with their repairs scheduled; ``heal`` repairs everything."""

    def __init__(self, system: BenchSystem, rng: random.Random, verbose: bool) -> None:
        self.system = system
        self.rng = rng
        self.verbose = verbose
        self.kills: Counter[str] = Counter()
        self.repairs: list[tuple[float, str, Callable[[], None]]] = []
        self.http = httpx.Client(timeout=3)
        self.started = time.monotonic()
        self.timeline: list[tuple[float, str]] = []
        """(wall clock, what happened): to line lost jobs up with the faults."""

    def log(self, message: str) -> None:
        self.timeline.append((time.time(), message))
        if self.verbose:
            print(f"  [{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def later(self, delay: float, what: str, repair: Callable[[], None]) -> None:
        self.repairs.append((time.monotonic() + delay, what, repair))

    def run_due_repairs(self, everything: bool = False) -> None:
        now = time.monotonic()
        due = [r for r in self.repairs if everything or r[0] <= now]
        self.repairs = [r for r in self.repairs if r not in due]
        for _, what, repair in sorted(due, key=lambda r: r[0]):
            self.log(f"repair: {what}")
            repair()

    def set_faults(self, sim: SimProcess, faults: dict[str, Any]) -> None:
        try:
            self.http.post(sim.url + "/admin/faults", json=faults).raise_for_status()
        except httpx.HTTPError as exc:  # the sim may be dead right now; heal() retries
            self.log(f"could not set faults on {sim.name}: {exc}")

    def live_sims(self) -> list[SimProcess]:
        return [s for s in self.system.sims if s.child.process.poll() is None]

    # -- the faults ------------------------------------------------------------------

    def kill_lane_worker(self) -> None:
        candidates = [(lane, c) for lane in LANES for c in self.system.workers.get(lane, [])]
        if not candidates:
            return
        lane, child = self.rng.choice(candidates)
        self.system.kill_worker(child)
        self.kills["lane worker SIGKILL"] += 1
        self.log(f"SIGKILL {child.name} (pid {child.process.pid})")
        self.later(self.rng.uniform(0.5, 3), f"replacement worker for {lane}", self._worker(lane))

    def kill_classifier(self) -> None:
        workers = self.system.workers.get("classify", [])
        if not workers:
            return
        child = workers[0]
        self.system.kill_worker(child)
        self.kills["classifier SIGKILL"] += 1
        self.log(f"SIGKILL {child.name} (pid {child.process.pid})")
        self.later(self.rng.uniform(1, 4), "replacement classifier", self._worker("classify"))

    def backend_down(self) -> None:
        sims = self.live_sims()
        if not sims:
            return
        sim = self.rng.choice(sims)
        self.set_faults(sim, {"down": True})
        self.kills["backend down (503)"] += 1
        self.log(f"{sim.name} down")
        self.later(self.rng.uniform(1, 5), f"{sim.name} up", lambda: self.set_faults(sim, HEALTHY))

    def backend_faults(self) -> None:
        sims = self.live_sims()
        if not sims:
            return
        sim = self.rng.choice(sims)
        faults = self.rng.choice(FAULT_SETS)
        self.set_faults(sim, faults)
        self.kills["backend errors/429/hangs"] += 1
        self.log(f"{sim.name} faults {faults}")
        self.later(
            self.rng.uniform(2, 6), f"{sim.name} healthy", lambda: self.set_faults(sim, HEALTHY)
        )

    def backend_process_kill(self) -> None:
        sims = self.live_sims()
        if len(sims) <= 1:
            return
        sim = self.rng.choice(sims)
        self.system.kill_sim(sim)
        self.kills["backend process SIGKILL"] += 1
        self.log(f"SIGKILL {sim.name} (port {sim.port})")
        self.later(
            self.rng.uniform(0.5, 3),
            f"restart {sim.name} on port {sim.port}",
            lambda: self.system.restart_sim(sim),
        )

    def _worker(self, role: str) -> Callable[[], None]:
        return lambda: self.log(f"started {self.system.start_worker(role).name}")

    def strike(self) -> None:
        actions: list[tuple[float, Callable[[], None]]] = [
            (4, self.kill_lane_worker),
            (1, self.kill_classifier),
            (2, self.backend_down),
            (2, self.backend_faults),
            (2, self.backend_process_kill),
        ]
        weights = [w for w, _ in actions]
        self.rng.choices([a for _, a in actions], weights)[0]()

    def heal(self, workers_per_lane: int) -> None:
        """Every repair now, every sim alive and fault-free, every role staffed."""
        self.run_due_repairs(everything=True)
        for sim in self.system.sims:
            self.system.restart_sim(sim)
            self.set_faults(sim, HEALTHY)
        for role, wanted in (("classify", 1), *((lane, workers_per_lane) for lane in LANES)):
            live = [c for c in self.system.workers.get(role, []) if c.process.poll() is None]
            for _ in range(wanted - len(live)):
                self._worker(role)()


def wait_final(client: redis.Redis, ids: list[str], timeout: float) -> dict[str, str | None]:
    """Status of every job, once all are final or ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, str | None] = {}
    while True:
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(keys.job(job_id), "status")
        statuses = dict(zip(ids, pipe.execute(), strict=True))
        pending = [i for i, s in statuses.items() if s not in FINAL]
        if not pending or time.monotonic() > deadline:
            return statuses
        time.sleep(1)


def xrange(client: redis.Redis, key: str) -> list[tuple[str, dict[str, str]]]:
    return cast(list[tuple[str, dict[str, str]]], client.xrange(key))


def final_events(client: redis.Redis, job_id: str) -> list[tuple[str, str]]:
    out = []
    for entry_id, entry in xrange(client, keys.events(job_id)):
        if entry.get("type") != "status":
            continue
        status = json.loads(entry.get("data") or "{}").get("status")
        if status in FINAL:
            out.append((entry_id, status))
    return out


def describe(client: redis.Redis, api: httpx.Client, job_id: str) -> str:
    response = api.get(f"/v1/jobs/{job_id}")
    record = response.json() if response.status_code == 200 else {"http": response.status_code}
    events = [
        (entry_id, entry.get("type"), (entry.get("data") or "")[:200])
        for entry_id, entry in xrange(client, keys.events(job_id))
        if entry.get("type") != "chunks"
    ]
    return json.dumps({"job": record, "events": events}, indent=2, default=str)


def _overall_timeout(signum: int, frame: object) -> None:
    raise TimeoutError("the chaos run took longer than its overall timeout")


def near(timeline: list[tuple[float, str]], at: float, window: float = 3.0) -> list[str]:
    """The faults and repairs within ``window`` seconds of ``at`` (wall clock)."""
    return [f"{t - at:+.2f}s {what}" for t, what in timeline if abs(t - at) <= window]


def last_event_time(client: redis.Redis, job_id: str) -> float:
    entries = client.xrevrange(keys.events(job_id), count=1)
    return int(str(entries[0][0]).split("-")[0]) / 1000 if entries else 0.0


def main(
    jobs: int = typer.Option(300, help="jobs to submit"),
    chaos_seconds: float = typer.Option(60, help="how long faults are injected"),
    min_interval: float = typer.Option(0.5, help="shortest pause between two faults (s)"),
    max_interval: float = typer.Option(3.0, help="longest pause between two faults (s)"),
    backends_per_lane: int = typer.Option(2, help="sim backends per lane"),
    workers_per_lane: int = typer.Option(2, help="worker processes per lane"),
    lane_concurrency: int = typer.Option(8, help="threads per lane worker"),
    wait_timeout: float = typer.Option(180, help="longest wait for the last jobs (s)"),
    seed: int = typer.Option(7, help="seed of the fault and job draws"),
    verbose: bool = typer.Option(True, help="print every fault and repair"),
    short_timeouts: bool = typer.Option(
        False, help="shortened worker/retry/visibility timeouts instead of the defaults"
    ),
) -> None:
    overall = int(chaos_seconds + wait_timeout + 180)
    signal.signal(signal.SIGALRM, _overall_timeout)
    signal.alarm(overall)  # cleanup still runs: the error unwinds through laneway_system
    wall_started = time.monotonic()
    rng = random.Random(seed)
    with laneway_system(
        SIMS,
        lane_concurrency=lane_concurrency,
        backends_per_lane=backends_per_lane,
        workers_per_lane=workers_per_lane,
        config_overrides=SHORT_TIMEOUTS if short_timeouts else None,
    ) as system:
        print(
            f"system up in {time.monotonic() - wall_started:.1f}s; logs in "
            f"{system.supervisor.log_dir}",
            flush=True,
        )
        started = time.monotonic()
        submitted = Submitted()
        submitter = threading.Thread(
            target=submit_jobs,
            args=(system.api_url, jobs, chaos_seconds * 0.8, seed, submitted),
            daemon=True,
        )
        submitter.start()
        chaos = Chaos(system, rng, verbose)
        next_strike = time.monotonic() + rng.uniform(min_interval, max_interval)
        while time.monotonic() - started < chaos_seconds:
            chaos.run_due_repairs()
            if time.monotonic() >= next_strike:
                chaos.strike()
                next_strike = time.monotonic() + rng.uniform(min_interval, max_interval)
            time.sleep(0.1)
        submitter.join(timeout=60)
        chaos.heal(workers_per_lane)
        print(
            f"chaos over after {time.monotonic() - started:.1f}s; all healthy again, "
            "waiting for every job",
            flush=True,
        )

        client = redis.Redis.from_url(system.redis_url, decode_responses=True)
        ids = list(submitted.ids)
        chaos_ended = started + chaos_seconds
        statuses = wait_final(client, ids, chaos_ended + STUCK_AFTER_SECONDS - time.monotonic())
        stuck = {i: s for i, s in statuses.items() if s not in FINAL}
        statuses = wait_final(client, ids, wait_timeout)
        finished_at = time.monotonic()

        api = httpx.Client(base_url=system.api_url, timeout=10)
        views: dict[str, dict[str, Any]] = {}
        for job_id in ids:
            response = api.get(f"/v1/jobs/{job_id}")
            if response.status_code == 200:
                views[job_id] = response.json()
        dead_stream = {fields["job_id"] for _, fields in xrange(client, keys.DEAD_LETTERS)}
        lost = [i for i in ids if statuses.get(i) not in FINAL or i not in views]
        duplicated: dict[str, str] = {}
        interrupted = redelivered = multi_lane = 0
        for job_id in ids:
            finals = final_events(client, job_id)
            if len(finals) > 1:
                duplicated[job_id] = f"{len(finals)} final status events {finals}"
            attempts = (views.get(job_id) or {}).get("attempts") or []
            wins = [a for a in attempts if a.get("outcome") == "succeeded"]
            if len(wins) > 1:
                duplicated[job_id] = f"{len(wins)} succeeded attempts"
            interrupted += any(a.get("outcome") == "interrupted" for a in attempts)
            redelivered += (views.get(job_id) or {}).get("deliveries", 0) > 1
            multi_lane += len({a.get("lane") for a in attempts}) > 1
        counts = Counter(statuses.get(i) for i in ids)
        dead = {i for i, v in views.items() if v.get("dead_lettered")} | (dead_stream & set(ids))
        sim_stats = {}
        for sim in system.sims:
            try:
                sim_stats[sim.name] = api.get(sim.url + "/admin/stats").json()
            except (httpx.HTTPError, ValueError):
                sim_stats[sim.name] = {}

        print()
        print(
            f"submitted            {len(ids)}  ({len(submitted.streaming)} streaming; "
            f"rejected at submit: {dict(submitted.rejected) or 0})"
        )
        print(f"succeeded            {counts['succeeded']}")
        print(f"failed               {counts['failed']}  (of which dead-lettered {len(dead)})")
        print(f"cancelled            {counts['cancelled']}")
        print(f"dead-lettered        {len(dead)}  ({len(dead_stream)} in {keys.DEAD_LETTERS})")
        print(f"lost                 {len(lost)}  (must be 0)")
        print(f"duplicated results   {len(duplicated)}  (must be 0)")
        print(
            f"unfinished {STUCK_AFTER_SECONDS:.0f}s after the chaos   {len(stuck)}  (must be 0"
            f"{'; ' + str(dict(Counter(stuck.values()))) if stuck else ''})"
        )
        print(
            f"jobs redelivered     {redelivered}  (jobs with an interrupted attempt: "
            f"{interrupted}; jobs that ran in more than one lane: {multi_lane})"
        )
        print("faults injected:")
        for kind, n in sorted(chaos.kills.items()):
            print(f"  {kind:28} {n}")
        errors = Counter(
            v.get("error_type") or "?" for v in views.values() if v.get("status") == "failed"
        )
        if errors:
            print(f"failure types        {dict(errors)}")
        for job_id, view in views.items():
            if view.get("status") == "failed":
                stream = " (streaming)" if (view.get("request") or {}).get("stream") else ""
                print(f"  failed {job_id}{stream}: {str(view.get('error'))[:160]}")
        restarts = sum(1 for c in system.supervisor.children if c.name.startswith("sim-")) - len(
            system.sims
        )
        print(f"sim restarts         {restarts}")
        print(f"wait for the last job after healing: {finished_at - started - chaos_seconds:.1f}s")
        print(f"wall time            {time.monotonic() - wall_started:.1f}s")
        for job_id in lost:
            print(
                f"\nLOST {job_id} (status {statuses.get(job_id)}):\n{describe(client, api, job_id)}"
            )
        for job_id, why in duplicated.items():
            print(f"\nDUPLICATED {job_id}: {why}\n{describe(client, api, job_id)}")
        for job_id, status in stuck.items():
            if job_id not in lost:
                print(f"\nSTUCK {job_id} ({status} at +60s):\n{describe(client, api, job_id)}")
        api.close()
    signal.alarm(0)
    if lost or duplicated or stuck:
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
