"""What a running batch does to interactive latency: the same interactive load without a
batch and while a ``--lines`` (default 5,000) batch runs, side by side in one run.

Against a system this script starts (embedded Redis with AOF, the rules classifier,
one worker per lane, sim backends with the ``small`` profile — 20 ms to the first token,
400 tokens/s — and default ``batch`` settings), interactive requests arrive open loop
(Poisson, ``--rate`` per second) at ``POST /v1/chat/completions``; each one's latency
counts from its scheduled arrival to its answer. It prints p50 and p99:

- idle: ``--duration`` seconds of interactive load alone;
- with the batch: from the batch's first line running to its completion (requests that
  arrived and ended in that window), and the batch's lines per second meanwhile;

and the ratios (targets: p50 within 1.5× of idle, p99 within 2×). Batch lines run at
priority ``low``: an interactive job goes ahead of every queued batch line, but waits
for a lane slot that batch lines may hold.

    python bench/batch_interference.py [--lines 5000] [--rate 10] [--duration 30] [--quick]
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
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import urlsplit

import httpx
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import laneway_system, percentile
from bench.batch import chat_body, create, upload, write_batch_file
from laneway.settings import Settings

DEFAULT_LANES = Settings.model_fields["lanes"].get_default(call_default_factory=True)

SMALL = ["--profile", "small"]
PROMPT_NAMES = ("short chat", "explanation", "code")
"""bench.batch's PROMPTS: the rules classifier sends the first two to fast-path, the
third to high-compute."""


@dataclass
class Interactive:
    arrivals: list[float] = field(default_factory=list)
    """Monotonic time of each request's scheduled arrival."""
    latencies_ms: list[float] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    """Each request's arrival, as wall-clock time (what job records hold)."""
    prompts: list[int] = field(default_factory=list)
    """Each request's prompt (an index of ``PROMPT_NAMES``)."""
    errors: Counter[str] = field(default_factory=Counter)


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, str]:
    """One request; its status and the laneway job id of the answer."""
    writer.write(head + body)
    header = await reader.readuntil(b"\r\n\r\n")
    length, job_id = 0, ""
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"x-laneway-job-id":
            job_id = value.strip().decode()
    await reader.readexactly(length)
    return int(header[9:12]), job_id


SEGMENTS = (
    ("to the API", "arrival", "created_at"),
    ("classify", "created_at", "routed_at"),
    ("lane queue", "routed_at", "started_at"),
    ("backend call", "started_at", "finished_at"),
    ("answer back", "finished_at", "answered"),
)


def segments(api_url: str, load: Interactive, keep: list[bool]) -> dict[str, float]:
    """Median ms of each stage of the kept requests' jobs (from their job records)."""
    spans: dict[str, list[float]] = {name: [] for name, _, _ in SEGMENTS}
    with httpx.Client(base_url=api_url, timeout=30) as http:
        for job_id, arrival, latency, kept in zip(
            load.jobs, load.wall, load.latencies_ms, keep, strict=True
        ):
            if not kept:
                continue
            job = http.get(f"/v1/jobs/{job_id}").json()
            times = {**job, "arrival": arrival, "answered": arrival + latency / 1000}
            for name, start, end in SEGMENTS:
                if times.get(start) and times.get(end):
                    spans[name].append((times[end] - times[start]) * 1000)
    return {name: statistics.median(values) for name, values in spans.items() if values}


@dataclass
class SlotCheck:
    """What interactive jobs found in their lane while the batch ran."""

    lane: str
    slots: int
    jobs: int = 0
    all_held: int = 0
    """Interactive jobs routed while batch lines held every slot of the lane."""
    wait_all_held_ms: list[float] = field(default_factory=list)
    wait_free_ms: list[float] = field(default_factory=list)


def slot_check(
    api_url: str, batch_id: str, load: Interactive, keep: list[bool], slots: dict[str, int]
) -> list[SlotCheck]:
    """For each interactive job of the window: how many batch lines ran in its lane when
    it was routed (from the batch lines' and its own job records), and its wait in the
    lane queue (routed → started) when they held every slot, and when they did not."""
    with httpx.Client(base_url=api_url, timeout=30) as http:
        batch = http.get(f"/v1/batches/{batch_id}").json()
        output = http.get(f"/v1/files/{batch['output_file_id']}/content").text.splitlines()
        running: dict[str, list[tuple[float, float]]] = {lane: [] for lane in slots}
        for raw in output:
            job = http.get(f"/v1/jobs/{json.loads(raw)['response']['request_id']}").json()
            if job.get("started_at") and job.get("finished_at"):
                running[job["lane"]].append((job["started_at"], job["finished_at"]))
        checks = {lane: SlotCheck(lane, count) for lane, count in slots.items()}
        for job_id, kept in zip(load.jobs, keep, strict=True):
            job = http.get(f"/v1/jobs/{job_id}").json()
            if not kept or not job.get("routed_at") or not job.get("started_at"):
                continue
            check = checks[job["lane"]]
            routed = job["routed_at"]
            held = sum(start <= routed < end for start, end in running[job["lane"]])
            check.jobs += 1
            wait = (job["started_at"] - routed) * 1000
            if held >= check.slots:
                check.all_held += 1
                check.wait_all_held_ms.append(wait)
            else:
                check.wait_free_ms.append(wait)
    return list(checks.values())


def median(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f}" if values else "     -"


async def interactive_load(
    api_url: str, rate: float, duration: float, stop: threading.Event
) -> Interactive:
    """Poisson arrivals at ``rate``/s for ``duration`` s (or until ``stop``), open loop."""
    parts = urlsplit(api_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = Interactive()
    idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []
    loop = asyncio.get_running_loop()
    offset_to_monotonic = time.monotonic() - loop.time()

    async def one(n: int, due: float) -> None:
        body = json.dumps(chat_body(n)).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        while idle and idle[0][0] < loop.time() - 4:  # uvicorn closes them after 5 s
            idle.pop(0)[2].close()
        reader, writer = idle.pop()[1:] if idle else await asyncio.open_connection(host, port)
        try:
            status, job_id = await _post(reader, writer, head, body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            writer.close()
            result.errors[type(exc).__name__] += 1
            return
        idle.append((loop.time(), reader, writer))
        if status != 200:
            result.errors[str(status)] += 1
            return
        result.prompts.append(n % len(PROMPT_NAMES))
        result.jobs.append(job_id)
        result.wall.append((due - loop.time()) + time.time())
        result.arrivals.append(due + offset_to_monotonic)
        result.latencies_ms.append((loop.time() - due) * 1000)

    start = loop.time()
    offset = 0.0
    tasks = []
    n = 0
    while not stop.is_set():
        offset += random.expovariate(rate)
        if offset >= duration:
            break
        await asyncio.sleep(max(0.0, start + offset - loop.time()))
        tasks.append(asyncio.create_task(one(n, start + offset)))
        n += 1
    await asyncio.gather(*tasks)
    for _, _, writer in idle:
        writer.close()
    return result


def report(name: str, values: list[float]) -> tuple[float, float]:
    p50, p99 = statistics.median(values), percentile(values, 99)
    print(f"  {name:<22} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   ({len(values)} requests)")
    return p50, p99


def main(
    lines: int = typer.Option(5_000, help="lines of the batch"),
    rate: float = typer.Option(10.0, help="interactive requests per second"),
    duration: float = typer.Option(30.0, help="seconds of idle interactive load"),
    quick: bool = typer.Option(False, help="15 s of idle load (the batch keeps its size)"),
    bench_concurrency: bool = typer.Option(
        False, help="16 slots a lane (the other benches'), not laneway's defaults (16/8/4)"
    ),
) -> None:
    if quick:
        duration = 15.0
    print(f"interactive load ({rate:g}/s, Poisson) alone, then while a {lines:,}-line batch runs")
    print("sims: small profile (20 ms to first token, 400 tok/s), max_tokens 16")
    slot_note = "16 each" if bench_concurrency else "laneway's defaults, 16/8/4"
    print(f"lane slots (concurrency): {slot_note}; batch.concurrency default")
    with TemporaryDirectory(prefix="laneway-batch-bench-") as tmp:
        folder = Path(tmp)
        config = {"data_dir": str(folder / "data"), "batch": {"storage_url": str(folder / "f")}}
        sims = {lane: SMALL for lane in ("fast-path", "general", "high-compute")}
        lanes = {name: {"concurrency": lane.concurrency} for name, lane in DEFAULT_LANES.items()}
        if not bench_concurrency:
            config["lanes"] = lanes  # laneway's defaults, not the benches' 16 a lane
        with laneway_system(sims, config_overrides=config) as system:
            never = threading.Event()
            asyncio.run(interactive_load(system.api_url, rate, 3, never))  # warm up
            idle = asyncio.run(interactive_load(system.api_url, rate, duration, never))

            path = folder / "batch.jsonl"
            write_batch_file(path, lines)
            http = httpx.Client(base_url=system.api_url, timeout=60)
            batch = create(http, upload(http, path))
            window: dict[str, float] = {}
            done = threading.Event()

            def watch() -> None:
                while not done.is_set():
                    b = http.get(f"/v1/batches/{batch['id']}").json()
                    counts = b["request_counts"]
                    finished = counts["completed"] + counts["failed"]
                    if finished and "start" not in window:
                        window["start"], window["start_lines"] = time.monotonic(), finished
                    if b["status"] in ("completed", "failed", "cancelled", "expired"):
                        window["end"], window["end_lines"] = time.monotonic(), finished
                        done.set()
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            while "start" not in window and not done.is_set():
                time.sleep(0.05)
            busy = asyncio.run(interactive_load(system.api_url, rate, 600, done))
            watcher.join()
            http.close()
            keep = [
                arrival + latency / 1000 <= window["end"]
                for arrival, latency in zip(busy.arrivals, busy.latencies_ms, strict=True)
            ]
            idle_stages = segments(system.api_url, idle, [True] * len(idle.jobs))
            busy_stages = segments(system.api_url, busy, keep)
            slots = {name: lane.concurrency or 8 for name, lane in DEFAULT_LANES.items()}
            if bench_concurrency:
                slots = {name: 16 for name in slots}
            checks = slot_check(system.api_url, batch["id"], busy, keep, slots)
    in_window = [
        (latency, lane)
        for latency, lane, kept in zip(busy.latencies_ms, busy.prompts, keep, strict=True)
        if kept
    ]
    during = [latency for latency, _ in in_window]
    seconds = window["end"] - window["start"]
    batch_rate = (window["end_lines"] - window["start_lines"]) / seconds
    print(f"  (errors: idle {dict(idle.errors)}, with the batch {dict(busy.errors)})")
    idle_p50, idle_p99 = report("idle", idle.latencies_ms)
    busy_p50, busy_p99 = report("while the batch runs", during)
    for index, prompt in enumerate(PROMPT_NAMES):
        alone = [v for v, n in zip(idle.latencies_ms, idle.prompts, strict=True) if n == index]
        shared = [v for v, n in in_window if n == index]
        report(f"  {prompt}, idle", alone)
        report(f"  {prompt}, batch", shared)
    print("  median ms per stage (job records): idle → while the batch runs")
    for name, _, _ in SEGMENTS:
        print(f"    {name:<14} {idle_stages.get(name, 0):7.1f} → {busy_stages.get(name, 0):7.1f}")
    print("  lane slots while the batch ran (interactive jobs, from job records):")
    for check in checks:
        print(
            f"    {check.lane:<13} {check.slots:2} slots: {check.all_held}/{check.jobs} found "
            f"batch lines in all of them; lane-queue wait median {median(check.wait_all_held_ms)}"
            f" ms then, {median(check.wait_free_ms)} ms otherwise"
        )
    print(f"  the batch meanwhile: {seconds:.1f} s, {batch_rate:.0f} lines/s")
    ok50 = "ok" if busy_p50 <= 1.5 * idle_p50 else "MISSED"
    ok99 = "ok" if busy_p99 <= 2 * idle_p99 else "MISSED"
    print(f"  p50 ratio {busy_p50 / idle_p50:5.2f}   (target ≤ 1.5: {ok50})")
    print(f"  p99 ratio {busy_p99 / idle_p99:5.2f}   (target ≤ 2: {ok99})")


if __name__ == "__main__":
    typer.run(main)
