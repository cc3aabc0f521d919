"""Sustained overload: open-loop submits at 5× what the lane workers can serve.

Arrivals follow a Poisson process (or a fixed rate) whatever the responses do, like
real clients; each submit's latency counts from its scheduled arrival, so a slow API
cannot hide behind fewer requests. Against a system this script starts (embedded
Redis with AOF, the rules classifier, one worker per lane, sim backends with a fixed
service time), it prints:

- submit status counts (202 / 429 / other) and submit latency p50/p99 (target
  p99 < 50 ms, no 5xx);
- the deepest each queue got (never past its ``max_queue_depth``);
- Redis ``used_memory`` every few seconds through the run and the drain after it;
- Redis bytes per job, metadata and content apart (``MEMORY USAGE`` of the keys of
  finished jobs), and what a given rate needs;
- once the load stops, that every accepted job reached a final state.

    python bench/load.py [--duration 60] [--rate R] [--content-ttl 20]
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import laneway_system, percentile
from bench._loadgen import _request
from laneway import keys
from laneway.lanes import CLASSIFY_QUEUE, LANES, queue_for
from laneway.settings import Settings
from laneway.wire import queue_keys

PROMPTS = [
    "hi!",  # rules: fast-path
    "Explain the difference between a process and a thread, with an everyday analogy please.",
    "write a python function that merges two sorted lists",  # rules: high-compute
]
FINAL = {"succeeded", "failed", "cancelled"}
MB = 1024 * 1024
DEFAULT_JOB_TTL = int(Settings.model_fields["job_ttl_seconds"].default)
DEFAULT_CONTENT_TTL = int(Settings.model_fields["content_ttl_seconds"].default)


@dataclass
class Submits:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    by_status_ms: dict[int, list[float]] = field(default_factory=dict)
    late_starts: int = 0
    """Arrivals that found every connection busy (their wait counts in their latency)."""


async def open_loop(
    url: str,
    rate: float,
    duration: float,
    poisson: bool,
    max_tokens: int,
    connections: int,
    on_accept: Callable[[str], None],
) -> Submits:
    """POST /v1/jobs at ``rate`` per second for ``duration`` seconds, open loop."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = Submits()
    idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []
    """Open connections, with when each was last used (uvicorn closes them after 5 s)."""
    slots = asyncio.Semaphore(connections)
    loop = asyncio.get_running_loop()

    async def submit(n: int, due: float) -> None:
        body = json.dumps(
            {
                "messages": [{"role": "user", "content": PROMPTS[n % len(PROMPTS)]}],
                "max_tokens": max_tokens,
            }
        ).encode()
        head = (
            f"POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        if slots.locked():
            result.late_starts += 1
        async with slots:
            while idle and idle[0][0] < loop.time() - 4:
                idle.pop(0)[2].close()
            conn = idle.pop()[1:] if idle else await asyncio.open_connection(host, port)
            try:
                status, answer = await _request(*conn, head, body)
            except (OSError, asyncio.IncompleteReadError):
                conn[1].close()
                result.statuses[0] += 1
                return
            idle.append((loop.time(), *conn))
        result.latencies_ms.append((loop.time() - due) * 1000)
        result.by_status_ms.setdefault(status, []).append(result.latencies_ms[-1])
        result.statuses[status] += 1
        if status == 202:
            result.accepted.append(json.loads(answer)["id"])
            on_accept(result.accepted[-1])

    start = loop.time()
    offset = 0.0
    tasks = []
    n = 0
    while True:
        offset += random.expovariate(rate) if poisson else 1 / rate
        if offset >= duration:
            break
        await asyncio.sleep(max(0.0, start + offset - loop.time()))
        tasks.append(asyncio.create_task(submit(n, start + offset)))
        n += 1
    await asyncio.gather(*tasks)
    for _, _, writer in idle:
        writer.close()
    return result


@dataclass
class Sample:
    at: float
    used_memory: int
    keys: int
    finished: int
    depths: dict[str, int]


def queue_depths(r: redis.Redis) -> dict[str, int]:
    queues = [CLASSIFY_QUEUE, *(queue_for(lane) for lane in LANES)]
    with r.pipeline(transaction=False) as pipe:
        for queue in queues:
            for key in queue_keys(queue):
                pipe.llen(key)
        lengths = pipe.execute()
    per = len(queue_keys(CLASSIFY_QUEUE))
    return {q: sum(lengths[i * per : (i + 1) * per]) for i, q in enumerate(queues)}


def finished_count(r: redis.Redis) -> int:
    stats: dict[str, str] = r.hgetall(keys.STATS)  # type: ignore[assignment]
    return sum(int(v) for k, v in stats.items() if k.startswith("finished|"))


class Sampler(threading.Thread):
    """Redis used_memory, key count, jobs finished and queue depths every ``every`` s."""

    def __init__(self, r: redis.Redis, every: float) -> None:
        super().__init__(daemon=True)
        self.r, self.every = r, every
        self.samples: list[Sample] = []
        self.max_depths: Counter[str] = Counter()
        self.started = time.monotonic()
        self.stop = threading.Event()

    def run(self) -> None:
        next_sample = 0.0
        while not self.stop.is_set():
            depths = queue_depths(self.r)
            for queue, depth in depths.items():
                self.max_depths[queue] = max(self.max_depths[queue], depth)
            at = time.monotonic() - self.started
            if at >= next_sample:
                memory = int(self.r.info("memory")["used_memory"])
                finished = finished_count(self.r)
                self.samples.append(Sample(at, memory, int(self.r.dbsize()), finished, depths))
                next_sample += self.every
            self.stop.wait(0.2)


class Tracker(threading.Thread):
    """Follows every accepted job until it is final (once a second, pipelined), so that
    a short ``job_ttl`` cannot expire a record before its end is seen."""

    def __init__(self, r: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.r = r
        self.pending: dict[str, None] = {}
        self.outcomes: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, job_id: str) -> None:
        with self.lock:
            self.pending[job_id] = None

    def run(self) -> None:
        while not self.stop.wait(1):
            self.check()

    def check(self) -> None:
        with self.lock:
            job_ids = list(self.pending)
        with self.r.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hmget(keys.job(job_id), ["status", "error_type"])
            replies = pipe.execute()
        with self.lock:
            for job_id, (status, error_type) in zip(job_ids, replies, strict=True):
                if status in FINAL:
                    del self.pending[job_id]
                    self.outcomes[f"{status} ({error_type})" if error_type else status] += 1
                elif status is None:  # expired (or never there) before its end was seen
                    del self.pending[job_id]
                    self.outcomes["record gone before final"] += 1

    def wait_all(self, timeout: float) -> Counter[str]:
        """Outcomes once no accepted job is pending (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.5)
        self.stop.set()
        self.join()
        self.check()
        with self.lock:
            return self.outcomes + Counter({"still not final": len(self.pending)})


def memory_usage(r: redis.Redis, key: str) -> int:
    return int(r.memory_usage(key, samples=0) or 0)


def bytes_per_job(r: redis.Redis, job_ids: list[str], tenant: str = "default") -> dict[str, float]:
    """Average ``MEMORY USAGE`` per finished job, newest first: its record (metadata) and
    tenant-index share, and (while kept) its content hash and its two streams."""
    sums: Counter[str] = Counter()
    records = with_content = 0
    for job_id in reversed(job_ids):
        if records == 200:
            break
        if r.hget(keys.job(job_id), "status") not in FINAL:
            continue
        records += 1
        sums["record"] += memory_usage(r, keys.job(job_id))
        if r.exists(keys.content(job_id)):
            with_content += 1
            for name, key in (
                ("content", keys.content(job_id)),
                ("events", keys.events(job_id)),
                ("final", keys.final(job_id)),
            ):
                sums[name] += memory_usage(r, key)
    index = keys.tenant_jobs(tenant)
    per = {"record": sums["record"] / max(1, records), "measured": records}
    per |= {name: sums[name] / max(1, with_content) for name in ("content", "events", "final")}
    per["index"] = memory_usage(r, index) / max(1, int(r.zcard(index)))
    return per


def main(
    duration: float = typer.Option(60, help="seconds of load"),
    rate: float = typer.Option(0, help="submits per second [default: 5× the lanes' capacity]"),
    arrivals: str = typer.Option("poisson", help="poisson or fixed"),
    service_ms: float = typer.Option(200, help="each backend call takes this long"),
    lane_concurrency: int = typer.Option(2, help="calls in flight per lane worker"),
    max_queue_depth: int = typer.Option(100, help="lanes.<lane>.max_queue_depth"),
    content_ttl: int | None = typer.Option(None, help="content_ttl_seconds [default: 3600]"),
    job_ttl: int | None = typer.Option(None, help="job_ttl_seconds [default: 7 days]"),
    store_content: bool = typer.Option(True, help="store_content"),
    max_tokens: int = typer.Option(64, help="max_tokens of each request (answer size)"),
    sample_every: float = typer.Option(5, help="seconds between memory samples"),
    drain_timeout: float = typer.Option(300, help="longest wait for accepted jobs to finish"),
    connections: int = typer.Option(256, help="most connections the load opens"),
) -> None:
    capacity = len(LANES) * lane_concurrency / (service_ms / 1000)
    rate = rate or 5 * capacity
    overrides: dict[str, Any] = {
        "lanes": {lane: {"max_queue_depth": max_queue_depth} for lane in LANES},
        "store_content": store_content,
    }
    if content_ttl is not None:
        overrides["content_ttl_seconds"] = content_ttl
    if job_ttl is not None:
        overrides["job_ttl_seconds"] = job_ttl
    sim = ["--profile", "small", "--ttft-ms", str(service_ms), "--tokens-per-second", "0"]
    print(
        f"lanes serve {capacity:.0f} jobs/s ({len(LANES)} lanes × {lane_concurrency} calls × "
        f"{service_ms:g} ms); offering {rate:.0f} submits/s ({arrivals}) for {duration:g} s; "
        f"max_queue_depth {max_queue_depth}, content_ttl {content_ttl or 'default'}, "
        f"job_ttl {job_ttl or 'default'}, store_content {store_content}"
    )
    with laneway_system(
        {lane: sim for lane in LANES}, lane_concurrency=lane_concurrency, config_overrides=overrides
    ) as system:
        r = redis.Redis.from_url(system.redis_url, decode_responses=True)
        r.config_set("latency-monitor-threshold", 20)  # Redis's own stalls, for the report
        sampler, tracker = Sampler(r, sample_every), Tracker(r)
        sampler.start()
        tracker.start()
        submits = asyncio.run(
            open_loop(
                system.api_url,
                rate,
                duration,
                arrivals == "poisson",
                max_tokens,
                connections,
                tracker.add,
            )
        )
        load_ended = time.monotonic() - sampler.started
        per_job = bytes_per_job(r, submits.accepted)
        statuses = tracker.wait_all(drain_timeout)
        drained = time.monotonic() - sampler.started
        if content_ttl is not None:  # watch the content of the last jobs expire too
            sampler.stop.wait(max(0.0, content_ttl + 2 * sample_every - (drained - load_ended)))
        sampler.stop.set()
        sampler.join()
        redis_stalls = (
            r.info("persistence").get("aof_delayed_fsync", 0),
            r.execute_command("LATENCY", "LATEST"),
        )
        final_sample = Sample(
            time.monotonic() - sampler.started,
            int(r.info("memory")["used_memory"]),
            int(r.dbsize()),
            finished_count(r),
            queue_depths(r),
        )
    report(submits, sampler, final_sample, per_job, statuses, load_ended, drained, rate, duration)
    delayed, events = redis_stalls
    worst = ", ".join(f"{e[0]} {e[3]} ms" for e in events) or "none over 20 ms"
    print(f"Redis's own stalls: worst per event: {worst}; AOF writes delayed by fsync: {delayed}")
    print_growth(sampler.samples, per_job, content_ttl or DEFAULT_CONTENT_TTL, load_ended)
    print_rates(per_job, content_ttl, job_ttl)


def print_growth(
    samples: list[Sample], per_job: dict[str, float], content_ttl: float, load_ended: float
) -> None:
    """Once the first jobs' content expired, memory grows by the metadata alone."""
    steady = [s for s in samples if content_ttl + 5 <= s.at <= load_ended]
    if len(steady) < 2:
        print("\n(the run is too short to see memory once the content TTL has passed)")
        return
    first, last = steady[0], steady[-1]
    finished = last.finished - first.finished
    grown = last.used_memory - first.used_memory
    seconds = last.at - first.at
    metadata = per_job["record"] + per_job["index"]
    content = sum(per_job[name] for name in ("content", "events", "final"))
    print(
        f"\nfrom t={first.at:.0f} s (content TTL passed) to the end of the load: used_memory "
        f"{grown / seconds / 1024:+.1f} KB/s while {finished / seconds:.1f} jobs/s finished, "
        f"{grown / max(1, finished):.0f} B per finished job: its metadata ({metadata:.0f} B) "
        f"stays for job_ttl, its content ({content:.0f} B) no longer adds up"
    )


def report(
    submits: Submits,
    sampler: Sampler,
    last: Sample,
    per_job: dict[str, float],
    statuses: Counter[str],
    load_ended: float,
    drained: float,
    rate: float,
    duration: float,
) -> None:
    total = sum(submits.statuses.values())
    codes = submits.statuses
    other = total - codes[202] - codes[429]
    server_errors = sum(n for code, n in codes.items() if code >= 500)
    latencies = submits.latencies_ms
    print(f"\nsubmits: {total} in {duration:g} s ({total / duration:.0f}/s, target {rate:.0f}/s)")
    print(f"  202 {codes[202]}   429 {codes[429]}   other {other} (5xx {server_errors})")
    print(
        f"  submit latency p50 {statistics.median(latencies):.1f} ms   "
        f"p99 {percentile(latencies, 99):.1f} ms   max {max(latencies):.1f} ms "
        f"(target p99 < 50 ms; from each scheduled arrival; "
        f"{submits.late_starts} arrivals waited for a connection)"
    )
    for code, values in sorted(submits.by_status_ms.items()):
        p50, p99 = statistics.median(values), percentile(values, 99)
        print(f"    {code}: p50 {p50:.1f} ms   p99 {p99:.1f} ms")
    print("deepest queues (all priority sub-lists):")
    for queue, depth in sampler.max_depths.items():
        print(f"  {queue:24} {depth}")
    print("\n    t (s)   used_memory   keys    finished   lane queues")
    for s in [*sampler.samples, last]:
        lanes = " ".join(str(s.depths[queue_for(lane)]) for lane in LANES)
        mark = " <- load ends" if abs(s.at - load_ended) < sampler.every / 2 else ""
        print(
            f"  {s.at:7.1f}   {s.used_memory / MB:8.2f} MB  {s.keys:6d}  {s.finished:8d}   "
            f"{lanes}{mark}"
        )
    accepted = len(submits.accepted)
    by_status = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()) if n)
    print(
        f"\naccepted jobs: {accepted}; all seen final {drained - load_ended:.0f} s after the "
        f"load: {by_status}; still not final: {statuses['still not final']}"
    )
    print(
        f"\nbytes per job (MEMORY USAGE of {per_job['measured']:.0f} finished jobs' keys): "
        f"record (metadata) {per_job.get('record', 0):.0f}, "
        f"tenant index {per_job['index']:.0f}; "
        f"content {per_job.get('content', 0):.0f} + event stream {per_job.get('events', 0):.0f} "
        f"+ final stream {per_job.get('final', 0):.0f}"
    )


def print_rates(per_job: dict[str, float], content_ttl: int | None, job_ttl: int | None) -> None:
    metadata = per_job.get("record", 0) + per_job["index"]
    content = sum(per_job.get(name, 0) for name in ("content", "events", "final"))
    content_ttl = content_ttl or DEFAULT_CONTENT_TTL
    job_ttl = job_ttl or DEFAULT_JOB_TTL
    print(
        f"metadata {metadata:.0f} B/job kept job_ttl ({job_ttl} s), "
        f"content {content:.0f} B/job kept content_ttl ({content_ttl} s)"
    )
    for per_second in (10, 100):
        kept_metadata = per_second * metadata * job_ttl
        kept_content = per_second * content * content_ttl
        print(
            f"  at {per_second} jobs/s, steady state: {size(kept_metadata + kept_content)} "
            f"(metadata {size(kept_metadata)}, content {size(kept_content)})"
        )
    if job_ttl != DEFAULT_JOB_TTL or content_ttl != DEFAULT_CONTENT_TTL:
        print(f"  on the default TTLs ({DEFAULT_JOB_TTL} s, {DEFAULT_CONTENT_TTL} s):")
        for per_second in (10, 100):
            kept_metadata = per_second * metadata * DEFAULT_JOB_TTL
            kept_content = per_second * content * DEFAULT_CONTENT_TTL
            print(
                f"  at {per_second} jobs/s, steady state: {size(kept_metadata + kept_content)} "
                f"(metadata {size(kept_metadata)}, content {size(kept_content)})"
            )


def size(count: float) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", MB), ("KB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count:.0f} B"


if __name__ == "__main__":
    typer.run(main)
