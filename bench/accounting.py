"""What usage accounting and the metrics' histograms add to a job, side by side in one run.

A job's accounting happens inside the Lua scripts it runs anyway: ``route.lua``
observes the classifier's latency, ``start.lua`` the queue wait, ``finish.lua`` the job's
latency, TTFT, backend call, tokens, cost and the hourly usage totals. This times a
job's route + start + finish on one Redis (AOF on, as laneway runs it), interleaved
round by round:
  (old) with the scripts as they are on ``--base`` (git), without accounting,
  (new) with this checkout's scripts,
and then the API's request-counting middleware around a trivial ASGI app.

End-to-end series (bench/overhead.py) on a shared machine vary by milliseconds between
runs; this isolates the part that changed.

    python bench/accounting.py [--rounds 3000] [--base main]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import summary
from laneway.celery_app import RUN_TASK, create_app
from laneway.jobs import JobStatus
from laneway.redis_server import EmbeddedRedis
from laneway.settings import Settings
from laneway.store import FinishGuard, JobStore
from laneway.wire import MessageFactory

ROOT = Path(__file__).resolve().parents[1]
OWNER = "bench-worker"


def old_source(base: str, name: str, *includes: str) -> str:
    def show(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{base}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    return "\n".join(show(f"laneway/lua/{part}.lua") for part in ("common", *includes, name))


def new_job(client: redis.Redis) -> str:
    """A job as the API leaves it: queued, waiting for the classifier."""
    job_id = "job_" + uuid.uuid4().hex
    now = time.time()
    client.hset(
        f"laneway:job:{job_id}",
        mapping={
            "id": job_id,
            "tenant": "default",
            "status": "queued",
            "kind": "chat",
            "lane": "general",
            "queue": "laneway.general",
            "request": json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
            "created_at": now - 0.004,
            "updated_at": now,
            "deadline_at": now + 300,
            "content_ttl": 3600,
            "usage_ttl": 90 * 86400,
        },
    )
    client.expire(f"laneway:job:{job_id}", 600)
    return job_id


def one_job(store: JobStore, messages: MessageFactory, job_id: str) -> float:
    """Route ``job_id`` as the classifier does, start and finish it as a lane worker
    does; milliseconds."""
    began = time.perf_counter()
    message = messages.build(RUN_TASK, (job_id,), "laneway.general")
    decision = {"status": "routed", "lane": "general", "queue": "laneway.general"}
    decision.update(strategy="rules", reason="bench", routed_at=str(time.time()))
    routed = store.route(job_id, {**decision, "confidence": 0.9, "classify_ms": 0.05}, message)
    assert routed == "ok", routed
    store.redis.lpop("laneway.general")  # as a worker's BRPOP takes it
    attempt = {"backend": "general-a", "lane": "general", "started_at": time.time()}
    attempt["outcome"] = "running"
    started = store.start(job_id, attempt, OWNER)
    assert started.outcome == "ok", started
    usage = {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28}
    reply = store.finish(
        job_id,
        JobStatus.SUCCEEDED,
        {
            "result": {"choices": [{"message": {"role": "assistant", "content": "hello"}}]},
            "usage": usage,
            "cost": 0.00003,
            "backend": "general-a",
            "model": "sim-medium",
            "latency_ms": 1.25,
            "ttft_ms": 0.8,
        },
        {**attempt, "ended_at": time.time(), "outcome": "succeeded", "latency_ms": 1.25},
        guard=FinishGuard(OWNER),
    )
    assert reply == "ok", reply
    return (time.perf_counter() - began) * 1000


def middleware_cost(rounds: int) -> tuple[float, float]:
    """Microseconds per request of a trivial ASGI app, bare and with CountRequests."""
    from api.request_counts import CountRequests, RequestCounts

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    counted = CountRequests(app, RequestCounts())  # type: ignore[arg-type]

    async def send(message: object) -> None:
        return None

    async def receive() -> dict[str, object]:
        return {"type": "http.request"}

    async def timed(target: object) -> float:
        scope = {"type": "http", "path": "/v1/jobs"}
        began = time.perf_counter()
        for _ in range(rounds):
            await target(scope, receive, send)  # type: ignore[operator]
        return (time.perf_counter() - began) / rounds * 1e6

    async def both() -> tuple[float, float]:
        bare = [await timed(app) for _ in range(5)]
        wrapped = [await timed(counted) for _ in range(5)]
        return statistics.median(bare), statistics.median(wrapped)

    return asyncio.run(both())


def main(
    rounds: int = typer.Option(3000, help="jobs per series, interleaved"),
    base: str = typer.Option("main", help="git revision whose scripts are the 'old' series"),
) -> None:
    with TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        try:
            client = redis.Redis.from_url(server.url, decode_responses=True)
            new = JobStore(client, 600)
            old = JobStore(client, 600)
            old._route = client.register_script(old_source(base, "route"))
            old._start = client.register_script(old_source(base, "start", "take"))
            old._finish = client.register_script(old_source(base, "finish"))
            times: dict[str, list[float]] = {"old": [], "new": []}
            messages = MessageFactory(create_app(Settings()))
            for _ in range(200):  # warm-up: scripts loaded, connections open
                one_job(old, messages, new_job(client))
                one_job(new, messages, new_job(client))
            for i in range(rounds):
                order = (("old", old), ("new", new)) if i % 2 else (("new", new), ("old", old))
                for name, store in order:
                    job_id = new_job(client)
                    times[name].append(one_job(store, messages, job_id))
            usage_keys = client.keys("laneway:usage:*")
        finally:
            server.stop()
    print(
        f"route + start + finish of one job, {rounds} interleaved rounds ({base} scripts vs ours)"
    )
    print(f"(old) without accounting   {summary(times['old'])}")
    print(f"(new) with accounting      {summary(times['new'])}")
    delta = statistics.median(times["new"]) - statistics.median(times["old"])
    print(
        f"added p50                  {delta * 1000:7.1f} µs per job  ({len(usage_keys)} usage hash)"
    )
    bare, wrapped = middleware_cost(20000)
    print(
        f"API request counting       {wrapped - bare:7.2f} µs per request "
        f"({bare:.2f} → {wrapped:.2f})"
    )


if __name__ == "__main__":
    typer.run(main)
