"""A burst on one lane: one fixed worker, then ``laneway worker --autoscale MAX,MIN``.

The general lane's sim answers in ``--ttft-ms`` (default 400 ms); each worker runs
``--concurrency`` calls at once. A burst of ``--jobs`` jobs goes to the lane twice: once
with the single worker ``laneway_system`` starts, once with that worker replaced by an
autoscaler. Prints how long each burst took to drain, when the autoscaler had 2 and MAX
workers live (by heartbeat), and how long after the drain it was back to MIN.

    python bench/autoscale.py [--jobs 200] [--concurrency 4] [--max-workers 4]
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import httpx
import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import LANEWAY, laneway_system
from laneway.heartbeat import live_roles
from laneway.processes import terminate


def burst(api_url: str, jobs: int) -> tuple[float, float]:
    """Submit ``jobs`` jobs to the general lane; (seconds to submit, seconds to drain)."""
    with httpx.Client(base_url=api_url, timeout=60) as api:
        started = time.monotonic()
        body = {"messages": [{"role": "user", "content": "hi"}], "route": "general"}
        ids = [api.post("/v1/jobs", json=body).json()["id"] for _ in range(jobs)]
        submitted = time.monotonic() - started
        for job_id in ids:
            job = api.get(f"/v1/jobs/{job_id}", params={"wait": 60}).json()
            assert job["status"] == "succeeded", job
        return submitted, time.monotonic() - started


def live(client: redis.Redis) -> int:
    return live_roles(client.hgetall("laneway:workers")).get("general", 0)  # type: ignore[arg-type]


def main(
    jobs: int = typer.Option(200, help="jobs in each burst"),
    concurrency: int = typer.Option(4, help="calls one general worker runs at once"),
    max_workers: int = typer.Option(4, help="the autoscaler's MAX (MIN is 1)"),
    ttft_ms: int = typer.Option(400, help="the general sim's time to answer"),
    scale_down_after: float = typer.Option(5.0, help="the autoscaler's --scale-down-after"),
) -> None:
    zero = ["--profile", "zero"]
    slow = ["--profile", "zero", "--ttft-ms", str(ttft_ms)]
    sims = {"fast-path": zero, "general": slow, "high-compute": zero}
    with laneway_system(sims, lane_concurrency=concurrency) as system:
        client = redis.Redis.from_url(system.redis_url, decode_responses=True)
        _, fixed = burst(system.api_url, jobs)
        print(f"1 fixed worker (concurrency {concurrency}): {jobs} jobs drained in {fixed:.1f} s")

        for child in system.workers.pop("general"):
            terminate(child.process, 30)
        deadline = time.monotonic() + 30
        while live(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        argv = [*LANEWAY, "worker", "--lane", "general", "--concurrency", str(concurrency)]
        argv += ["--autoscale", f"{max_workers},1", "--scale-down-after", str(scale_down_after)]
        argv += ["--loglevel", "WARNING"]
        system.supervisor.spawn("autoscale-general", argv, system.env)
        while live(client) < 1:
            time.sleep(0.1)

        timeline: list[tuple[float, int]] = []
        stop = threading.Event()
        start = time.monotonic()

        def sample() -> None:
            while not stop.is_set():
                timeline.append((time.monotonic() - start, live(client)))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        submitted, scaled = burst(system.api_url, jobs)
        while live(client) > 1 and time.monotonic() - start < scaled + 120:
            time.sleep(0.2)
        back = time.monotonic() - start - scaled
        stop.set()
        sampler.join()

    def first(n: int) -> str:
        return next((f"{t:.1f} s" for t, count in timeline if count >= n), "never")

    peak = max(count for _, count in timeline)
    print(
        f"autoscale {max_workers},1 (concurrency {concurrency}): {jobs} jobs submitted in "
        f"{submitted:.1f} s, drained in {scaled:.1f} s ({fixed / scaled:.1f}× faster); "
        f"2 workers live at {first(2)}, {max_workers} at {first(max_workers)} "
        f"(peak {peak}); back to 1 worker {back:.1f} s after the drain "
        f"(--scale-down-after {scale_down_after:g} s per step)"
    )


if __name__ == "__main__":
    typer.run(main)
