"""Lane spillover, measured: a burst of fast-path traffic on a small fast-path pool
while general has idle slots, with spillover off, at its default age limit and at a
short one.

Sim backends: ``small-1`` (small profile, one slot) serves fast-path, ``medium-1``
(medium profile, 4 slots) general, ``large-1`` (large profile, 4 slots) high-compute.
The rules classifier places every request ("hi! ..." greetings) in fast-path; each
answer is 100 tokens. Poisson arrivals at ``--rate`` for ``--seconds``, more than
the one small slot can take, so fast-path's queue grows while general idles. The
same arrivals replay on a fresh laneway system per setting; from the job records:
time from routing until a worker took the job, end-to-end latency (created to
finished), jobs moved, cost.

    python bench/spillover.py [--rate 8] [--seconds 6] [--seed 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import laneway_over, percentile, sim_fleet
from laneway.sim.profiles import get_profile

FLEET = [("small-1", "small", 1, "fast-path"), ("medium-1", "medium", 4, "general")]
FLEET += [("large-1", "large", 4, "high-compute")]
ANSWER_TOKENS = 100


def lanes(sims: dict[str, str], spillover: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, profile_name, slots, lane in FLEET:
        profile = get_profile(profile_name)
        out[lane] = {
            "concurrency": slots,
            "backends": [
                {
                    "name": name,
                    "base_url": sims[name] + "/v1",
                    "model": profile.model,
                    "max_concurrency": slots,
                    "context_window": profile.context_window,
                    "price_per_1k_input": profile.price_per_1k_input,
                    "price_per_1k_output": profile.price_per_1k_output,
                }
            ],
        }
    if spillover is not None:
        out["fast-path"]["spillover"] = spillover
    return out


def arrivals(rate: float, seconds: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    at, out = 0.0, []
    while True:
        at += rng.expovariate(rate)
        if at >= seconds:
            return out
        out.append(at)


async def run(api_url: str, times: list[float]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=api_url, timeout=120) as client:
        body = {"messages": [{"role": "user", "content": "hi! warm-up"}]}
        warm = (await client.post("/v1/jobs", json=body)).json()["id"]
        await client.get(f"/v1/jobs/{warm}", params={"wait": 60})
        start = time.monotonic()

        async def one(index: int, at: float) -> dict[str, Any]:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            body = {
                "messages": [{"role": "user", "content": f"hi! greeting number {index}"}],
                "metadata": {"sim_answer_tokens": str(ANSWER_TOKENS)},
            }
            response = await client.post("/v1/jobs", json=body)
            response.raise_for_status()
            job_id = response.json()["id"]
            job: dict[str, Any] = (
                await client.get(f"/v1/jobs/{job_id}", params={"wait": 110})
            ).json()
            return job

        return list(await asyncio.gather(*(one(i, at) for i, at in enumerate(times))))


def summarize(name: str, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    done = [j for j in jobs if j["status"] == "succeeded"]
    waits = [j["started_at"] - j["routed_at"] for j in done]
    latency = [j["finished_at"] - j["created_at"] for j in done]
    moved = [j for j in done if j.get("spillover")]
    return {
        "setting": name,
        "jobs": len(jobs),
        "failed": len(jobs) - len(done),
        "moved": len(moved),
        "wait_p50": statistics.median(waits),
        "wait_p99": percentile(waits, 99),
        "wait_max": max(waits),
        "latency_p50": statistics.median(latency),
        "latency_p99": percentile(latency, 99),
        "cost": sum(j.get("cost") or 0.0 for j in done),
        "lanes": {lane: sum(j["lane"] == lane for j in done) for lane in ("fast-path", "general")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=8.0, help="arrivals per second")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--short", type=float, default=1.0, help="the short age limit, s")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    times = arrivals(args.rate, args.seconds, args.seed)
    settings: list[tuple[str, dict[str, Any] | None]] = [
        ("spillover off (the default)", None),
        ("spillover to general, after_seconds 5 (its default)", {"to": ["general"]}),
        (
            f"spillover to general, after_seconds {args.short:g}",
            {"to": ["general"], "after_seconds": args.short},
        ),
    ]
    load_before = os.getloadavg()[0]
    print(
        f"{len(times)} fast-path requests over {args.seconds:g} s (Poisson, {args.rate:g}/s, "
        f"seed {args.seed}), {ANSWER_TOKENS} answer tokens each; fast-path: small-1, one "
        f"slot; general: medium-1, 4 slots (idle); load average before {load_before:.2f}"
    )
    results = []
    specs = [
        (name, ["--profile", profile, "--max-concurrency", str(slots)])
        for name, profile, slots, _ in FLEET
    ]
    with sim_fleet(specs) as started:
        sims = {sim.name: sim.url for sim in started}
        for name, spillover in settings:
            overrides = {"classifier": {"strategy": "rules"}}
            with laneway_over(lanes(sims, spillover), overrides) as system:
                jobs = asyncio.run(run(system.api_url, times))
            results.append(summarize(name, jobs))
            print(f"ran: {name}")
    print()
    print(
        "setting | jobs | failed | moved to general | wait routed→taken p50 / p99 / max | "
        "latency p50 / p99 | cost"
    )
    for r in results:
        print(
            f"{r['setting']} | {r['jobs']} | {r['failed']} | {r['moved']} | "
            f"{r['wait_p50']:.2f} / {r['wait_p99']:.2f} / {r['wait_max']:.2f} s | "
            f"{r['latency_p50']:.2f} / {r['latency_p99']:.2f} s | ${r['cost']:.5f}"
        )
    off = results[0]
    for r in results[1:]:
        print(
            f"{r['setting']}: latency p99 {r['latency_p99'] / off['latency_p99']:.2f}x, "
            f"p50 {r['latency_p50'] / off['latency_p50']:.2f}x, cost "
            f"{r['cost'] / off['cost']:.2f}x of spillover off"
        )
    print(f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    if args.json:
        args.json.write_text(json.dumps({"arrivals": len(times), "results": results}, indent=2))


if __name__ == "__main__":
    main()
