"""How much latency laneway adds, and how many jobs/s it moves, side by side in one run.

Measured with a zero-delay sim backend on the same machine, interleaved
request by request so that machine noise hits every series alike:
  (a) a direct call to the backend (POST /v1/chat/completions),
  (b) a bare one-task Celery round trip on the same Redis (delay() + get()),
      stock Celery and kombu: the baseline of the target,
  (b') the same bare round trip on laneway's kombu transport, for reference
      (what the transport alone saves; see laneway/transport.py),
  (c) submit → result through laneway's OpenAI endpoint (one call: the job is
      classified, routed, run by a lane worker and its result returned),
  (d) submit → result through the native jobs API (POST /v1/jobs, then
      GET /v1/jobs/{id}?wait=… long poll),
then jobs/s through laneway's OpenAI endpoint with the lane workers saturated.

    python bench/overhead.py [--requests 300] [--jobs 3000] [--concurrency 24]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BENCH_MODEL, BenchSystem, laneway_system, summary
from bench._loadgen import run_load

ZERO = ["--profile", "zero"]
PROMPTS = [
    "hi!",
    "Explain the difference between a process and a thread, with an everyday analogy please.",
    "write a python function that merges two sorted lists",
]


def chat_body(prompt: str, model: str) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 16}


def start_bare_celery(system: BenchSystem, transport: str = "") -> Callable[[], object]:
    """A bare Celery worker on the bench's Redis; returns one round trip (delay + get)."""
    here = str(Path(__file__).resolve().parent)
    queue = f"bare-{transport or 'stock'}"
    env = {
        **system.env,
        "BARE_REDIS_URL": system.redis_url,
        "BARE_QUEUE": queue,
        "BARE_TRANSPORT": transport,
        "PYTHONPATH": here,
    }
    system.supervisor.spawn(
        queue,
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bare_celery",
            "worker",
            "-P",
            "threads",
            "-c",
            "8",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        env,
    )
    sys.path.insert(0, here)
    from bare_celery import LANEWAY_TRANSPORT, make_app

    app = make_app(system.redis_url, queue, LANEWAY_TRANSPORT if transport else None)
    echo = app.tasks["bare.echo"]
    echo.delay("warm").get(timeout=60)
    return lambda: echo.delay("x").get(timeout=10)


def latency_series(system: BenchSystem, n: int) -> dict[str, list[float]]:
    direct = httpx.Client(base_url=system.sim_urls["fast-path"], timeout=30)
    api = httpx.Client(base_url=system.api_url, timeout=30)
    bare = start_bare_celery(system)
    bare_laneway = start_bare_celery(system, transport="laneway")
    counter = iter(range(10**9))

    def call_direct() -> None:
        direct.post("/v1/chat/completions", json=chat_body("hi!", BENCH_MODEL)).raise_for_status()

    def call_openai() -> None:
        prompt = PROMPTS[next(counter) % 3]
        response = api.post("/v1/chat/completions", json=chat_body(prompt, "auto"))
        assert response.status_code == 200, response.text

    def call_native() -> None:
        prompt = PROMPTS[next(counter) % 3]
        job_id = api.post("/v1/jobs", json=chat_body(prompt, "auto")).json()["id"]
        job = api.get(f"/v1/jobs/{job_id}", params={"wait": 10}).json()
        assert job["status"] == "succeeded", job

    series: dict[str, Callable[[], object]] = {
        "direct": call_direct,
        "bare": bare,
        "bare_laneway": bare_laneway,
        "openai": call_openai,
        "native": call_native,
    }
    times: dict[str, list[float]] = {name: [] for name in series}
    for round_ in range(n + 20):
        for name, call in series.items():
            started = time.perf_counter()
            call()
            if round_ >= 20:  # the first rounds warm connections and caches
                times[name].append((time.perf_counter() - started) * 1000)
    direct.close()
    api.close()
    return times


async def throughput(api_url: str, jobs: int, concurrency: int) -> tuple[float, int]:
    return await run_load(
        api_url,
        "/v1/chat/completions",
        lambda i: chat_body(PROMPTS[i % 3], "auto"),
        jobs,
        concurrency,
    )


def main(
    requests: int = typer.Option(300, help="interleaved rounds of the latency series"),
    jobs: int = typer.Option(3000, help="jobs in the throughput run"),
    concurrency: int = typer.Option(24, help="concurrent clients in the throughput run"),
    lane_concurrency: int = typer.Option(16, help="threads per lane worker"),
) -> None:
    sims = {"fast-path": ZERO, "general": ZERO, "high-compute": ZERO}
    with laneway_system(sims, lane_concurrency=lane_concurrency) as system:
        times = latency_series(system, requests)
        rate, failures = asyncio.run(throughput(system.api_url, jobs, concurrency))
    direct, bare = statistics.median(times["direct"]), statistics.median(times["bare"])
    print(f"(a) direct call to the backend        {summary(times['direct'])}")
    print(f"(b) bare Celery round trip            {summary(times['bare'])}")
    print(f"(b') the same on laneway's transport  {summary(times['bare_laneway'])}")
    print(f"(c) submit → result, OpenAI endpoint  {summary(times['openai'])}")
    print(f"(d) submit → result, jobs API + wait  {summary(times['native'])}")
    for label, name in (("(c)", "openai"), ("(d)", "native")):
        overhead = statistics.median(times[name]) - direct
        print(
            f"laneway p50 overhead {label} - (a)       {overhead:7.2f} ms = "
            f"{overhead / bare:.2f}× the bare Celery round trip (target ≤ 2×)"
        )
    print(
        f"throughput: {jobs} jobs from {concurrency} clients, {rate:7.1f} jobs/s end to end "
        f"({failures} failed; target ≥ 180)"
    )


if __name__ == "__main__":
    typer.run(main)
