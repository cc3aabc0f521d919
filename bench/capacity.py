"""What one job costs Redis, and what Celery's task events (Flower's task view) add.

On one laneway system over zero-delay sims (bench/overhead.py's set-up):

1. Redis commands per job: ``INFO commandstats`` before and after N jobs through the
   OpenAI endpoint, less what the idle system (heartbeats, health probes, watchdogs)
   issues in the same time; Lua scripts are one EVALSHA each plus the commands they run.
2. Redis CPU per job under load (``INFO cpu``, user + sys): the jobs/s one Redis core
   could carry if nothing else limited it.
3. Bytes per job: ``MEMORY USAGE`` of a finished job's keys.
4. Task events on and off (Flower switches them on with ``enable_events``, as here),
   interleaved in blocks: the (c) series' p50 and Redis commands per job each way.

    python bench/capacity.py [--jobs 2000] [--rounds 300] [--concurrency 24]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BenchSystem, laneway_system, summary
from bench._loadgen import run_load
from bench.overhead import PROMPTS, ZERO, chat_body
from laneway.celery_app import create_app
from laneway.settings import load_settings


def commandstats(client: redis.Redis) -> Counter[str]:
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})


def cpu_seconds(client: redis.Redis) -> float:
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def one_job(api: httpx.Client, i: int) -> str:
    response = api.post("/v1/chat/completions", json=chat_body(PROMPTS[i % 3], "auto"))
    assert response.status_code == 200, response.text
    return str(response.headers["x-laneway-job-id"])


def idle_rate(client: redis.Redis, seconds: float) -> Counter[str]:
    """Commands per second of the idle system."""
    before = commandstats(client)
    time.sleep(seconds)
    after = commandstats(client)
    return Counter({k: (after[k] - before[k]) / seconds for k in after})  # type: ignore[misc]


def per_job(
    client: redis.Redis, api: httpx.Client, jobs: int, idle: Counter[str]
) -> tuple[Counter[str], list[str]]:
    before, started = commandstats(client), time.monotonic()
    ids = [one_job(api, i) for i in range(jobs)]
    after, took = commandstats(client), time.monotonic() - started
    spent: Counter[str] = Counter()
    for name in after:
        spent[name] = (after[name] - before[name] - idle[name] * took) / jobs  # type: ignore[assignment]
    return spent, ids


def job_bytes(client: redis.Redis, job_ids: list[str]) -> dict[str, float]:
    sizes: dict[str, list[int]] = {}
    for job_id in job_ids:
        for key in client.scan_iter(f"laneway:job:{job_id}*"):
            kind = key.removeprefix(f"laneway:job:{job_id}") or ":record"
            sizes.setdefault(kind, []).append(int(client.memory_usage(key, samples=0) or 0))
    return {kind: statistics.mean(values) for kind, values in sizes.items()}


def events_series(
    system: BenchSystem, client: redis.Redis, rounds: int, block: int = 25
) -> dict[bool, tuple[list[float], float]]:
    """The (c) series in alternating blocks with task events off and on."""
    app = create_app(load_settings(system.config_path))
    api = httpx.Client(base_url=system.api_url, timeout=30)
    times: dict[bool, list[float]] = {False: [], True: []}
    commands: dict[bool, list[int]] = {False: [], True: []}
    counter = 0
    for n in range(rounds // block):
        events = n % 2 == 1
        (app.control.enable_events if events else app.control.disable_events)()
        time.sleep(0.5)  # the broadcast reaches every worker
        one_job(api, counter)
        before = sum(commandstats(client).values())
        for _ in range(block):
            counter += 1
            started = time.perf_counter()
            one_job(api, counter)
            times[events].append((time.perf_counter() - started) * 1000)
        commands[events].append(sum(commandstats(client).values()) - before)
    app.control.disable_events()
    api.close()
    return {k: (times[k], sum(commands[k]) / max(1, len(times[k]))) for k in (False, True)}


def main(
    jobs: int = typer.Option(500, help="sequential jobs for commands and bytes per job"),
    load_jobs: int = typer.Option(2000, help="jobs in the CPU-per-job load run"),
    concurrency: int = typer.Option(24, help="concurrent clients in the load run"),
    rounds: int = typer.Option(400, help="jobs in the task-events series (both ways)"),
) -> None:
    sims = {"fast-path": ZERO, "general": ZERO, "high-compute": ZERO}
    with laneway_system(sims) as system:
        client = redis.Redis.from_url(system.redis_url, decode_responses=True)
        api = httpx.Client(base_url=system.api_url, timeout=30)
        for i in range(50):
            one_job(api, i)  # warm connections, scripts and caches
        idle = idle_rate(client, 10)
        spent, ids = per_job(client, api, jobs, idle)
        sizes = job_bytes(client, ids[-200:])
        cpu_before = cpu_seconds(client)
        rate, failures = asyncio.run(
            run_load(
                system.api_url,
                "/v1/chat/completions",
                lambda i: chat_body(PROMPTS[i % 3], "auto"),
                load_jobs,
                concurrency,
            )
        )
        cpu = (cpu_seconds(client) - cpu_before) / load_jobs
        events = events_series(system, client, rounds)
        api.close()

    total = sum(spent.values())
    scripts = spent["evalsha"] + spent["eval"]
    print(f"idle system: {sum(idle.values()):.1f} Redis commands/s (heartbeats, probes, watchdogs)")
    print(f"Redis commands per job (OpenAI endpoint, idle rate removed): {total:.1f}")
    print(f"  of which Lua script calls (EVALSHA): {scripts:.1f}")
    for name, calls in spent.most_common(12):
        print(f"  {name:<22} {calls:6.2f}")
    print("bytes per finished job (MEMORY USAGE, mean of 200):")
    for kind, size in sorted(sizes.items()):
        print(f"  laneway:job:<id>{kind if kind != ':record' else '':<12} {size:8.0f}")
    print(f"  total {sum(sizes.values()):8.0f}")
    print(
        f"load: {load_jobs} jobs from {concurrency} clients, {rate:.1f} jobs/s "
        f"({failures} failed); Redis CPU {cpu * 1000:.3f} ms/job "
        f"→ {1 / cpu:,.0f} jobs/s per Redis core at most"
    )
    (off, off_cmds), (on, on_cmds) = events[False], events[True]
    print(f"task events off: {summary(off)}; {off_cmds:.1f} Redis commands/job")
    print(f"task events on:  {summary(on)}; {on_cmds:.1f} Redis commands/job")
    diff = statistics.median(on) - statistics.median(off)
    print(f"task events cost: {diff:+.2f} ms p50 per job, {on_cmds - off_cmds:+.1f} commands/job")


if __name__ == "__main__":
    typer.run(main)
