"""Redis round trips a lane worker makes for one job, pickup to finish, per strategy.

Runs the lane worker's job runner (workers/runner.py) in this process against an
embedded Redis and a zero-delay sim, with every Redis connection counting what it
sends: one count per request written to the socket, so a pipeline or a script is
one round trip however many commands it holds. Celery's own round trips for the
message (the BRPOP that delivers it and the ack) come on top and are not counted.

    python bench/round_trips.py [--jobs 200]

It also prints the runner's median time per job (the backend call to a zero-delay
sim included), for a before/after comparison on one machine.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from laneway import keys
from laneway.celery_app import create_app
from laneway.redis_server import EmbeddedRedis
from laneway.runtime import Runtime
from laneway.settings import LaneConfig, Settings
from laneway.store import JobStore, dumps
from laneway.wire import MessageFactory
from tests.sim_helpers import start_sim_backend
from workers.backends import BackendClient
from workers.balancing import FleetSlots
from workers.breaker import Breakers
from workers.cancel import CancelRegistry
from workers.runner import JobRunner, LaneWorkerContext
from workers.selection import selection_for

STRATEGIES = ("least-in-flight", "weighted-round-robin", "peak-ewma", "lowest-cost", "affinity")
sent = 0


class CountingConnection(redis.Connection):
    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        global sent
        sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def new_job(r: redis.Redis, lane: str, text: str) -> str:
    job_id = f"job_{uuid.uuid4().hex}"
    now = time.time()
    request = {"messages": [{"role": "user", "content": text}], "max_tokens": 8, "user": "u-1"}
    r.hset(
        keys.job(job_id),
        mapping={
            "id": job_id,
            "tenant": "bench",
            "kind": "chat",
            "request": dumps(request),
            "status": "routed",
            "lane": lane,
            "created_at": now,
            "deadline_at": now + 300,
            "deliveries": 0,
        },
    )
    return job_id


def main(jobs: int = typer.Option(200, help="jobs per strategy")) -> None:
    global sent
    with tempfile.TemporaryDirectory(prefix="laneway-rt-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        sim = start_sim_backend("--profile", "zero", "--name", "zero")
        try:
            for strategy in STRATEGIES:
                lane = LaneConfig.model_validate(
                    {
                        "balancing": strategy,
                        "backends": [
                            {
                                "name": f"{strategy}-{n}",
                                "base_url": sim.base_url,
                                "model": "sim-zero",
                            }
                            for n in (1, 2)
                        ],
                    }
                )
                settings = Settings(redis_url=server.url, lanes={"fast-path": lane})
                pool = redis.ConnectionPool.from_url(
                    server.url, decode_responses=True, connection_class=CountingConnection
                )
                client = redis.Redis(connection_pool=pool)
                rt = Runtime(
                    settings, client, JobStore(client, 3600), MessageFactory(create_app(settings))
                )
                ctx = LaneWorkerContext(
                    client=BackendClient(settings.worker, 10),
                    slots=FleetSlots(client, settings.worker.slot_lease_seconds, "bench"),
                    cancels=CancelRegistry(),
                    breakers=Breakers(client, settings.retry),
                    owner="bench",
                    selections={
                        "fast-path": selection_for("fast-path", settings.lanes["fast-path"])
                    },
                )
                counts, times = [], []
                for i in range(jobs + 5):
                    job_id = new_job(client, "fast-path", f"hello {i}")
                    before = sent
                    started = time.perf_counter()
                    outcome = JobRunner(rt, ctx, job_id, "fast-path", None, [], "normal").run()
                    elapsed = (time.perf_counter() - started) * 1000
                    assert outcome == "ok", outcome  # succeeded
                    if i >= 5:  # the first jobs load the scripts
                        counts.append(sent - before)
                        times.append(elapsed)
                mean = sum(counts) / len(counts)
                print(
                    f"{strategy:22s} {mean:5.2f} round trips a job "
                    f"(min {min(counts)}, max {max(counts)}; breaker reads once a second), "
                    f"runner p50 {statistics.median(times):.2f} ms"
                )
                ctx.client.close()
        finally:
            sim.stop()
            server.stop()


if __name__ == "__main__":
    typer.run(main)
