"""The Batch API's throughput against the same requests sent one by one, and the API's
memory while it validates a file at the size limit; side by side in one run.

Against a system this script starts (embedded Redis with AOF, the rules classifier,
one worker per lane, zero-delay sim backends, default ``batch`` settings), it prints:

- a ``--lines`` batch (default 10,000): upload (MB/s), validation (lines/s), validation
  + submit (lines/s: from create until the last line was handed to the producer) and
  end to end (lines/s: from create to ``completed``);
- the same requests through ``POST /v1/jobs`` by a client holding as many in flight as
  ``batch.concurrency`` (each one submits, then long-polls ``GET /v1/jobs/{id}?wait=``):
  jobs/s, and the ratio batch / direct (target ≥ 0.9);
- the API process's RSS (its whole process tree, from /proc) before, and at its peak
  while a file of ``--memory-mb`` (default 200, OpenAI's limit) is uploaded and
  validated (target < 300 MB). That batch is cancelled once validated.

    python bench/batch.py [--lines 10000] [--memory-mb 200] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BenchSystem, laneway_system
from bench._loadgen import _request, post_head
from laneway.settings import BatchConfig

ZERO = ["--profile", "zero"]
PROMPTS = [
    "hi!",  # rules: fast-path
    "Explain the difference between a process and a thread, with an everyday analogy please.",
    "write a python function that merges two sorted lists",  # rules: high-compute
]
MB = 1024 * 1024
DEFAULTS = BatchConfig()


def chat_body(n: int, prompt: str | None = None) -> dict[str, Any]:
    content = prompt or PROMPTS[n % len(PROMPTS)]
    return {"model": "auto", "messages": [{"role": "user", "content": content}], "max_tokens": 16}


def batch_line(n: int, prompt: str | None = None) -> bytes:
    line = {
        "custom_id": f"req-{n}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": chat_body(n, prompt),
    }
    return json.dumps(line).encode() + b"\n"


def write_batch_file(path: Path, lines: int, prompt_chars: int = 0) -> int:
    """``lines`` requests in a file; with ``prompt_chars`` each prompt is that long."""
    with path.open("wb") as stream:
        for n in range(lines):
            prompt = (PROMPTS[n % 3] + " " + "lorem ipsum " * prompt_chars)[:prompt_chars] or None
            stream.write(batch_line(n, prompt))
    return path.stat().st_size


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (from /proc)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for row in status.splitlines():
            if row.startswith("VmRSS:"):
                total += int(row.split()[1]) * 1024
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(self.every)

    def stop(self) -> int:
        self.stopped.set()
        self.join()
        return self.peak


@contextmanager
def batch_system(**overrides: Any) -> Iterator[tuple[BenchSystem, Path]]:
    """A bench system on zero-delay sims, its file storage in a temporary folder."""
    with TemporaryDirectory(prefix="laneway-batch-bench-") as tmp:
        folder = Path(tmp)
        config = {"data_dir": str(folder / "data"), "batch": {"storage_url": str(folder / "files")}}
        sims = {lane: ZERO for lane in ("fast-path", "general", "high-compute")}
        with laneway_system(sims, config_overrides={**config, **overrides}) as system:
            yield system, folder


def api_pid(system: BenchSystem) -> int:
    return next(c.process.pid for c in system.supervisor.children if c.name == "api")


def upload(http: httpx.Client, path: Path) -> str:
    with path.open("rb") as stream:
        response = http.post(
            "/v1/files",
            files={"file": (path.name, stream, "application/jsonl")},
            data={"purpose": "batch"},
            timeout=600,
        )
    response.raise_for_status()
    return str(response.json()["id"])


def create(http: httpx.Client, file_id: str) -> dict[str, Any]:
    body = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
    }
    response = http.post("/v1/batches", json=body)
    response.raise_for_status()
    batch: dict[str, Any] = response.json()
    return batch


def next_line(r: redis.Redis, batch_id: str) -> int:
    return int(r.hget(f"laneway:batch:{batch_id}", "next_line") or 0)


def watch_batch(
    http: httpx.Client,
    r: redis.Redis,
    batch_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 1800,
) -> dict[str, float]:
    """Poll the batch until ``until(batch)``: when it left ``validating``, when its last
    line was submitted, and when ``until`` held (monotonic times)."""
    times: dict[str, float] = {}
    total = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = http.get(f"/v1/batches/{batch_id}").json()
        now = time.monotonic()
        if batch["status"] != "validating":
            times.setdefault("validated", now)
            total = batch["request_counts"]["total"]
        if batch["status"] == "failed":
            raise RuntimeError(f"batch failed: {batch['errors']}")
        if total and "submitted" not in times and next_line(r, batch_id) >= total:
            times["submitted"] = now
        if until(batch):
            times["done"] = now
            times.setdefault("submitted", now)
            return times
        time.sleep(0.05)
    raise RuntimeError(f"batch {batch_id} did not finish in {timeout} s")


def run_batch(system: BenchSystem, folder: Path, lines: int) -> dict[str, float]:
    path = folder / "batch.jsonl"
    size = write_batch_file(path, lines)
    r = redis.Redis.from_url(system.redis_url)
    with httpx.Client(base_url=system.api_url, timeout=60) as http:
        started = time.monotonic()
        file_id = upload(http, path)
        uploaded = time.monotonic()
        batch = create(http, file_id)
        created = time.monotonic()
        times = watch_batch(http, r, batch["id"], lambda b: b["status"] == "completed")
        final = http.get(f"/v1/batches/{batch['id']}").json()
    counts = final["request_counts"]
    if counts["completed"] != lines:
        print(f"  warning: {counts['failed']} of {lines} lines failed")
    return {
        "upload_mb_s": size / MB / (uploaded - started),
        "validation": lines / (times["validated"] - created),
        "validation_submit": lines / (times["submitted"] - created),
        "end_to_end": lines / (times["done"] - created),
        "with_upload": lines / (times["done"] - started),
    }


async def direct_jobs(api_url: str, total: int, connections: int) -> tuple[float, int]:
    """``total`` requests through POST /v1/jobs, each waited for (GET ?wait=), with
    ``connections`` in flight; (jobs/s, jobs not succeeded)."""
    parts = urlsplit(api_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counter = iter(range(total))
    failures = 0

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in counter:
                body = json.dumps(chat_body(n)).encode()
                head = post_head(host, "/v1/jobs", body)
                status, answer = await _request(reader, writer, head, body)
                while status == 429:  # a full queue: wait it out, as the batch driver does
                    await asyncio.sleep(0.2)
                    status, answer = await _request(reader, writer, head, body)
                if status != 202:
                    failures += 1
                    continue
                job_id = json.loads(answer)["id"]
                get = f"GET /v1/jobs/{job_id}?wait=60 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
                status, answer = await _request(reader, writer, get, b"")
                if status != 200 or json.loads(answer)["status"] != "succeeded":
                    failures += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return total / (time.perf_counter() - started), failures


def validation_memory(system: BenchSystem, folder: Path, megabytes: int) -> dict[str, float]:
    """Peak RSS of the API's processes while a file of ``megabytes`` (and at most
    ``batch.max_lines`` lines) is uploaded and validated; the batch is then cancelled."""
    target = min(megabytes * MB, DEFAULTS.max_file_bytes) - 64 * 1024
    lines = min(DEFAULTS.max_lines, max(1, target // 4096))
    prompt_chars = max(0, int(target / lines) - len(batch_line(0)))
    path = folder / "big.jsonl"
    size = write_batch_file(path, lines, prompt_chars)
    pid = api_pid(system)
    before = tree_rss(pid)
    sampler = RssSampler(pid)
    sampler.start()
    r = redis.Redis.from_url(system.redis_url)
    with httpx.Client(base_url=system.api_url, timeout=60) as http:
        try:
            file_id = upload(http, path)
            batch = create(http, file_id)
            created = time.monotonic()
            times = watch_batch(http, r, batch["id"], lambda b: b["status"] != "validating")
        finally:
            peak = sampler.stop()
        http.post(f"/v1/batches/{batch['id']}/cancel").raise_for_status()
    path.unlink()
    return {
        "file_mb": size / MB,
        "lines": lines,
        "validation_s": times["validated"] - created,
        "rss_before_mb": before / MB,
        "rss_peak_mb": peak / MB,
    }


def main(
    lines: int = typer.Option(10_000, help="lines of the batch (and direct requests)"),
    memory_mb: int = typer.Option(200, help="size of the file validated for the memory check"),
    quick: bool = typer.Option(False, help="2,000 lines and a 40 MB file"),
) -> None:
    if quick:
        lines, memory_mb = 2_000, 40
    concurrency = DEFAULTS.concurrency
    print(f"batch of {lines:,} lines vs the same through /v1/jobs ({concurrency} in flight)")
    print("zero-delay sims, rules classifier, one worker per lane, default batch settings")
    with batch_system() as (system, folder):
        batch = run_batch(system, folder, lines)
        print(f"  upload                 {batch['upload_mb_s']:8.1f} MB/s")
        print(f"  validation             {batch['validation']:8.0f} lines/s")
        print(f"  validation + submit    {batch['validation_submit']:8.0f} lines/s")
        print(f"  batch end to end       {batch['end_to_end']:8.0f} lines/s")
        print(f"    (upload included     {batch['with_upload']:8.0f} lines/s)")
        direct, failures = asyncio.run(direct_jobs(system.api_url, lines, concurrency))
        print(f"  direct /v1/jobs        {direct:8.0f} jobs/s  ({failures} not succeeded)")
        ratio = batch["end_to_end"] / direct
        verdict = "ok" if ratio >= 0.9 else "MISSED"
        print(f"  batch / direct         {ratio:8.2f}   (target ≥ 0.9: {verdict})")
        memory = validation_memory(system, folder, memory_mb)
        print(
            f"validating a {memory['file_mb']:.0f} MB file of {memory['lines']:,.0f} lines: "
            f"{memory['validation_s']:.1f} s ({memory['lines'] / memory['validation_s']:,.0f} "
            "lines/s)"
        )
        verdict = "ok" if memory["rss_peak_mb"] < 300 else "MISSED"
        print(
            f"  API RSS before {memory['rss_before_mb']:.0f} MB, peak during upload and "
            f"validation {memory['rss_peak_mb']:.0f} MB (target < 300 MB: {verdict})"
        )


if __name__ == "__main__":
    typer.run(main)
