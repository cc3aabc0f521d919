"""How much latency laneway adds, and how many jobs/s it moves, side by side in one run.

Measured with a zero-delay sim backend on the same machine:
  (a) a direct call to the backend,
  (b) a bare one-task Celery round trip on the same Redis (apply_async + result.get),
  (c) submit → result through laneway (POST /v1/jobs, then GET /v1/jobs/{id}?wait=…),
and jobs/s through laneway with the lane workers saturated.

    python bench/overhead.py [--requests 300] [--jobs 3000] [--concurrency 64]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BENCH_MODEL, laneway_system, summary

ZERO = ["--profile", "zero"]
PROMPTS = [
    "hi!",
    "Explain the difference between a process and a thread, with an everyday analogy please.",
    "write a python function that merges two sorted lists",
]


def direct_calls(url: str, n: int) -> list[float]:
    body = {
        "model": BENCH_MODEL,
        "messages": [{"role": "user", "content": "hi!"}],
        "max_tokens": 16,
    }
    times = []
    with httpx.Client(base_url=url) as client:
        for _ in range(20):
            client.post("/v1/chat/completions", json=body)
        for _ in range(n):
            started = time.perf_counter()
            client.post("/v1/chat/completions", json=body).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def bare_celery(redis_url: str, n: int, supervisor, env) -> list[float]:  # type: ignore[no-untyped-def]
    env = {**env, "BARE_REDIS_URL": redis_url, "PYTHONPATH": str(Path(__file__).resolve().parent)}
    supervisor.spawn(
        "bare-worker",
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
            "bare",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        env,
    )
    os.environ["BARE_REDIS_URL"] = redis_url
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bare_celery import echo

    echo.delay("warm").get(timeout=30)
    times = []
    for _ in range(20):
        echo.delay("x").get(timeout=10)
    for _ in range(n):
        started = time.perf_counter()
        echo.delay("x").get(timeout=10)
        times.append((time.perf_counter() - started) * 1000)
    return times


def through_laneway(api_url: str, n: int) -> list[float]:
    times = []
    with httpx.Client(base_url=api_url, timeout=30) as client:

        def one(prompt: str) -> None:
            job_id = client.post(
                "/v1/jobs",
                json={"messages": [{"role": "user", "content": prompt}], "max_tokens": 16},
            ).json()["id"]
            job = client.get(f"/v1/jobs/{job_id}", params={"wait": 10}).json()
            assert job["status"] == "succeeded", job

        for i in range(20):
            one(PROMPTS[i % 3])
        for i in range(n):
            started = time.perf_counter()
            one(PROMPTS[i % 3])
            times.append((time.perf_counter() - started) * 1000)
    return times


async def throughput(api_url: str, jobs: int, concurrency: int) -> tuple[float, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=api_url, timeout=60, limits=limits) as client:
        semaphore = asyncio.Semaphore(concurrency)
        failures = 0

        async def one(i: int) -> None:
            nonlocal failures
            async with semaphore:
                body = {"messages": [{"role": "user", "content": PROMPTS[i % 3]}], "max_tokens": 16}
                job_id = (await client.post("/v1/jobs", json=body)).json()["id"]
                job = (await client.get(f"/v1/jobs/{job_id}", params={"wait": 60})).json()
                if job["status"] != "succeeded":
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(jobs)))
        return jobs / (time.perf_counter() - started), failures


def main(
    requests: int = typer.Option(300, help="sequential requests per latency series"),
    jobs: int = typer.Option(3000, help="jobs in the throughput run"),
    concurrency: int = typer.Option(64, help="client concurrency in the throughput run"),
    lane_concurrency: int = typer.Option(16, help="threads per lane worker"),
) -> None:
    sims = {"fast-path": ZERO, "general": ZERO, "high-compute": ZERO}
    with laneway_system(sims, lane_concurrency=lane_concurrency) as system:
        direct = direct_calls(system.sim_urls["fast-path"], requests)
        bare = bare_celery(system.redis_url, requests, system.supervisor, system.env)
        laneway = through_laneway(system.api_url, requests)
        rate, failures = asyncio.run(throughput(system.api_url, jobs, concurrency))
    overhead = statistics.median(laneway) - statistics.median(direct)
    print(f"(a) direct call to the backend      {summary(direct)}")
    print(f"(b) bare Celery round trip          {summary(bare)}")
    print(f"(c) submit → result via laneway     {summary(laneway)}")
    ratio = overhead / statistics.median(bare)
    print(
        f"laneway p50 overhead (c - a)        {overhead:7.2f} ms = {ratio:.2f}× "
        "the bare Celery round trip (target ≤ 2×)"
    )
    print(
        f"throughput, {jobs} jobs, {concurrency} clients: {rate:7.1f} jobs/s end to end "
        f"({failures} not succeeded; target ≥ 180)"
    )


if __name__ == "__main__":
    typer.run(main)
