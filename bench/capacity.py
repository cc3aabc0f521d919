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
import os
import re
import statistics
import sys
import threading
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


def round_trips(client: redis.Redis, api: httpx.Client, jobs: int) -> tuple[float, float]:
    """(client commands, commands run inside Lua scripts) per job, from MONITOR: a
    client command is one round trip (or one entry of a pipeline)."""
    seen: Counter[str] = Counter()
    marker = f"capacity-bench-{time.time()}"

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if marker in command["command"]:
                    return
                seen["lua" if command["client_type"] == "lua" else "client"] += 1

    ready = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    time.sleep(0.2)
    for i in range(jobs):
        one_job(api, i)
    client.echo(marker)
    watcher.join(30)
    return seen["client"] / jobs, seen["lua"] / jobs


def process_cpu(system: BenchSystem) -> dict[str, float]:
    """CPU seconds (user + system) each live child has used, by role."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for child in system.supervisor.children:
        if child.process.poll() is not None:
            continue
        fields = Path(f"/proc/{child.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        role = re.sub(r"-\d+$", "", child.name)
        used[role] = used.get(role, 0.0) + seconds
    return used


def job_bytes(client: redis.Redis, job_ids: list[str]) -> dict[str, float]:
    sizes: dict[str, list[int]] = {}
    for job_id in job_ids:
        for key in client.scan_iter(f"laneway:job:{job_id}*"):
            kind = key.removeprefix(f"laneway:job:{job_id}") or ":record"
            sizes.setdefault(kind, []).append(int(client.memory_usage(key, samples=0) or 0))
    return {kind: statistics.mean(values) for kind, values in sizes.items()}


def events_series(
    system: BenchSystem, client: redis.Redis, rounds: int, block: int = 25
) -> dict[bool, tuple[list[float], Counter[str], float]]:
    """The (c) series in alternating blocks with task events off and on; per mode the
    latencies, the Redis commands per job and CPU seconds per job of laneway's processes
    (API, workers, sims; Redis not included)."""
    app = create_app(load_settings(system.config_path))
    api = httpx.Client(base_url=system.api_url, timeout=30)
    times: dict[bool, list[float]] = {False: [], True: []}
    commands: dict[bool, Counter[str]] = {False: Counter(), True: Counter()}
    cpu: dict[bool, float] = {False: 0.0, True: 0.0}
    counter = 0
    for n in range(rounds // block):
        events = n % 2 == 1
        (app.control.enable_events if events else app.control.disable_events)()
        time.sleep(0.5)  # the broadcast reaches every worker
        one_job(api, counter)
        before, cpu_before = commandstats(client), process_cpu(system)
        for _ in range(block):
            counter += 1
            started = time.perf_counter()
            one_job(api, counter)
            times[events].append((time.perf_counter() - started) * 1000)
        commands[events].update(commandstats(client) - before)
        cpu_after = process_cpu(system)
        cpu[events] += sum(cpu_after[r] - cpu_before.get(r, 0.0) for r in cpu_after)
    app.control.disable_events()
    api.close()
    per_job = {
        k: Counter({name: calls / len(times[k]) for name, calls in commands[k].items()})
        for k in (False, True)
    }
    return {
        k: (times[k], per_job[k], cpu[k] / len(times[k]))  # type: ignore[misc]
        for k in (False, True)
    }


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
        trips, in_scripts = round_trips(client, api, 100)
        cpu_before, roles_before = cpu_seconds(client), process_cpu(system)
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
        roles_after = process_cpu(system)
        role_cpu = {r: (roles_after[r] - roles_before.get(r, 0)) / load_jobs for r in roles_after}
        events = events_series(system, client, rounds)
        api.close()

    total = sum(spent.values())
    scripts = spent["evalsha"] + spent["eval"]
    print(f"idle system: {sum(idle.values()):.1f} Redis commands/s (heartbeats, probes, watchdogs)")
    print(f"Redis commands per job (OpenAI endpoint, idle rate removed): {total:.1f}")
    print(f"  of which Lua script calls (EVALSHA): {scripts:.1f}")
    print(
        f"  MONITOR, 100 jobs: {trips:.1f} client commands (round trips or pipeline entries) "
        f"+ {in_scripts:.1f} run inside scripts, per job"
    )
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
    print("CPU per job during the load run, by process (ms):")
    for role, seconds in sorted(role_cpu.items(), key=lambda item: -item[1]):
        if seconds > 0.00001:
            print(f"  {role:<22} {seconds * 1000:7.3f}")
    print(f"  {'redis-server':<22} {cpu * 1000:7.3f}")
    (off, off_cmds, off_cpu), (on, on_cmds, on_cpu) = events[False], events[True]
    print(f"task events off: {summary(off)}; {sum(off_cmds.values()):.1f} Redis commands/job")
    print(f"task events on:  {summary(on)}; {sum(on_cmds.values()):.1f} Redis commands/job")
    diff = statistics.median(on) - statistics.median(off)
    added = {k: on_cmds[k] - off_cmds[k] for k in on_cmds.keys() | off_cmds.keys()}
    largest = sorted(added.items(), key=lambda item: -abs(item[1]))[:3]
    shown = ", ".join(f"{name} {calls:+.1f}" for name, calls in largest)
    print(
        f"task events cost: {diff:+.2f} ms p50 per job, "
        f"{sum(added.values()):+.1f} Redis commands/job ({shown}), CPU of laneway's "
        f"processes {off_cpu * 1000:.2f} → {on_cpu * 1000:.2f} ms/job"
    )


if __name__ == "__main__":
    typer.run(main)
