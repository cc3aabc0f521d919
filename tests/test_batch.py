"""The OpenAI Files and Batch API, driven by the official openai package against a
real API, real workers and sim backends (a Redis database and config of their own)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from laneway.net import free_port, wait_for_port
from laneway.processes import terminate
from laneway.supervisor import Child
from tests.side_system import SideSystem, side_system
from tests.system import LANEWAY, System

KEYS = "key-a:tenant-a,key-b:tenant-b"
CONCURRENCY = 4
ROLES = ("classify", "fast-path", "general", "high-compute")


@dataclass
class BatchSystem:
    side: SideSystem
    config: Path
    api_url: str = ""
    api: Child | None = None
    workers: dict[str, Child] = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str]) -> Child:
        env = {**self.side.system.env, "LANEWAY_CONFIG": str(self.config), "LANEWAY_API_KEYS": KEYS}
        child = self.side.system.supervisor.spawn(name, argv, env)
        self.side.children.append(child)
        return child

    def start_api(self) -> None:
        port = free_port()
        self.api = self.spawn(f"batch-api-{port}", [*LANEWAY, "api", "--port", str(port)])
        if not wait_for_port("127.0.0.1", port, 30):
            raise RuntimeError("API did not start")
        self.api_url = f"http://127.0.0.1:{port}"

    def start_worker(self, role: str) -> None:
        name = f"batch-{role}-{time.monotonic_ns()}"
        self.workers[role] = self.spawn(name, [*LANEWAY, "worker", "--lane", role])

    def client(self, key: str = "key-a") -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.api_url}/v1", api_key=key, max_retries=0)

    @property
    def redis(self) -> redis.Redis:
        return self.side.redis


@pytest.fixture(scope="module")
def bs(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchSystem]:
    folder = tmp_path_factory.mktemp("batch")
    with side_system(system, folder, db=9) as side:
        config = side.config(
            "batch",
            {
                "batch": {
                    "storage_url": (folder / "files").as_uri(),
                    "concurrency": CONCURRENCY,
                    "max_lines": 100,
                    "max_file_bytes": 200_000,
                    "completion_windows": {"3s": 3},
                    "max_open_batches": 2,
                },
                "lanes": {"general": {"max_queue_depth": 3}},
            },
        )
        batch_system = BatchSystem(side, config)
        for role in ROLES:
            batch_system.start_worker(role)
        batch_system.start_api()
        side.wait_ready(*ROLES)
        yield batch_system


def line(custom_id: str, url: str = "/v1/chat/completions", **body: Any) -> dict[str, Any]:
    body.setdefault("model", "auto")
    if url == "/v1/chat/completions":
        body.setdefault("messages", [{"role": "user", "content": f"say hi to {custom_id}"}])
    body.setdefault("max_tokens", 4)
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in lines)


def wait_status(
    client: openai.OpenAI, batch_id: str, statuses: set[str], timeout: float = 60
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses or time.monotonic() > deadline:
            assert batch.status in statuses, batch
            return batch
        time.sleep(0.1)


def wait_until(client: openai.OpenAI, batch_id: str, finished: int, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        counts = batch.request_counts
        if counts.completed + counts.failed >= finished or time.monotonic() > deadline:
            assert counts.completed + counts.failed >= finished, batch
            return batch
        time.sleep(0.05)


def read_lines(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [json.loads(raw) for raw in client.files.content(file_id).content.splitlines()]


def submit(client: openai.OpenAI, lines: list[dict[str, Any]], window: str = "24h") -> Any:
    uploaded = client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window=window,  # type: ignore[arg-type]
    )


def jobs_of(bs: BatchSystem, tenant: str) -> int:
    return int(bs.redis.zcard(f"laneway:tenant:{tenant}:jobs"))


def test_batch_runs_to_completed_with_output_and_error_files(bs: BatchSystem) -> None:
    client = bs.client()
    lines = [
        line(f"ok-{i}", model=("auto", "laneway/general", "sim-medium")[i % 3]) for i in range(17)
    ]
    lines += [line(f"bad-{i}", tools="not a list of tools") for i in range(3)]  # the sim's 400
    data = jsonl(lines)
    uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
    assert uploaded.object == "file" and uploaded.purpose == "batch"
    assert uploaded.bytes == len(data) and uploaded.filename == "input.jsonl"
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    assert uploaded.id in {f.id for f in client.files.list()}
    assert client.files.content(uploaded.id).content == data

    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"run": "nightly"},
    )
    assert batch.status == "validating" and batch.metadata == {"run": "nightly"}
    assert batch.expires_at is not None and batch.expires_at - batch.created_at == 24 * 3600
    assert batch.id in {b.id for b in client.batches.list()}
    most_in_flight = 0
    deadline = time.monotonic() + 90
    while (batch := client.batches.retrieve(batch.id)).status not in ("completed", "failed"):
        most_in_flight = max(most_in_flight, bs.redis.hlen(f"laneway:batch:{batch.id}:inflight"))
        assert time.monotonic() < deadline, batch
        time.sleep(0.05)
    assert batch.status == "completed", batch.errors
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (20, 17)
    assert batch.request_counts.failed == 3
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at
    assert 0 < most_in_flight <= CONCURRENCY

    output = read_lines(client, batch.output_file_id)
    errors = read_lines(client, batch.error_file_id)
    # in input order (OpenAI does not promise it; laneway does)
    assert [o["custom_id"] for o in output] == [f"ok-{i}" for i in range(17)]
    assert [e["custom_id"] for e in errors] == ["bad-0", "bad-1", "bad-2"]
    with httpx.Client(base_url=bs.api_url, headers={"Authorization": "Bearer key-a"}) as http:
        for item in output:
            assert item["id"].startswith("batch_req_") and item["error"] is None
            assert item["response"]["status_code"] == 200
            assert item["response"]["body"]["choices"][0]["message"]["content"]
            job = http.get(f"/v1/jobs/{item['response']['request_id']}").json()
            assert job["priority"] == "low" and job["status"] == "succeeded"
            index = int(item["custom_id"].split("-")[1])
            if index % 3 == 1:  # laneway/general forced the lane
                assert job["lane"] == "general" and job["strategy"] == "route"
    for item in errors:
        job = httpx.get(
            f"{bs.api_url}/v1/jobs/{item['response']['request_id']}",
            headers={"Authorization": "Bearer key-a"},
        ).json()
        assert job["status"] == "failed" and job["priority"] == "low"
        assert item["response"]["status_code"] == 400
        assert "tools" in item["error"]["message"], item
        assert item["response"]["body"]["error"]["message"] == item["error"]["message"]
    assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"  # type: ignore[arg-type]

    metrics = httpx.get(f"{bs.api_url}/metrics").text
    assert 'laneway_batches{status="completed"}' in metrics
    assert 'laneway_batch_lines_total{outcome="succeeded"}' in metrics


def test_validation_errors_name_their_lines_and_enqueue_nothing(bs: BatchSystem) -> None:
    client = bs.client()
    lines = [
        json.dumps(line("a")),
        '{"custom_id": "b", "method": "POST", ',  # malformed JSON
        json.dumps(line("a")),  # duplicate custom_id
        json.dumps(line("c", url="/v1/embeddings")),
        json.dumps({**line("d"), "method": "GET"}),
        json.dumps(line("e", messages=[])),
        json.dumps(line("f", model="no-such-model")),
        json.dumps(line("g", temperature="hot")),
    ]
    jobs_before = jobs_of(bs, "tenant-a")
    uploaded = client.files.create(file=("bad.jsonl", "\n".join(lines).encode()), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    batch = wait_status(client, batch.id, {"failed", "in_progress", "completed"})
    assert batch.status == "failed" and batch.failed_at and batch.errors and batch.errors.data
    found = {(e.line, e.code) for e in batch.errors.data}
    assert found == {
        (2, "invalid_json_line"),
        (3, "duplicate_custom_id"),
        (4, "invalid_url"),
        (5, "invalid_method"),
        (6, "invalid_request"),
        (7, "model_not_found"),
        (8, "invalid_request"),
    }
    by_line = {e.line: e for e in batch.errors.data}
    assert by_line[6].param == "body.messages" and by_line[8].param == "body.temperature"
    assert "line 1" in (by_line[3].message or "")
    assert batch.output_file_id is None and batch.error_file_id is None
    assert jobs_of(bs, "tenant-a") == jobs_before

    too_many = [line(f"n-{i}") for i in range(101)]  # batch.max_lines is 100 here
    batch = wait_status(client, submit(client, too_many).id, {"failed", "in_progress"})
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert [(e.line, e.code) for e in batch.errors.data] == [(101, "too_many_requests")]
    assert jobs_of(bs, "tenant-a") == jobs_before

    with pytest.raises(openai.APIStatusError) as too_large:  # batch.max_file_bytes: 200 kB
        client.files.create(file=("big.jsonl", b"x" * 300_000), purpose="batch")
    assert too_large.value.status_code == 413
    with pytest.raises(openai.BadRequestError):
        client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError):
        client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="48h",  # type: ignore[arg-type]
        )


def test_a_lane_the_key_may_not_use_fails_validation(bs: BatchSystem) -> None:
    env = {**bs.side.system.env, "LANEWAY_CONFIG": str(bs.config)}
    created = subprocess.run(
        [*LANEWAY, "keys", "create", "--tenant", "tenant-c", "--lanes", "general"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    client = bs.client(created.stdout.strip())
    lines = [line("allowed", model="laneway/general"), line("forced", model="sim-large")]
    batch = wait_status(client, submit(client, lines).id, {"failed", "in_progress"})
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert [(e.line, e.code, e.param) for e in batch.errors.data] == [
        (2, "lane_not_allowed", "body.model")
    ]
    assert jobs_of(bs, "tenant-c") == 0


def slow_lines(prefix: str, count: int, max_tokens: int = 8) -> list[dict[str, Any]]:
    """Lines for the slow sim (40 tokens/s): a few run at a time, for a while."""
    return [line(f"{prefix}-{i}", model="sim-slow", max_tokens=max_tokens) for i in range(count)]


def assert_each_once(batch: Any, client: openai.OpenAI, prefix: str, count: int) -> None:
    output = read_lines(client, batch.output_file_id)
    errors = read_lines(client, batch.error_file_id)
    seen = [item["custom_id"] for item in output + errors]
    assert sorted(seen) == sorted(f"{prefix}-{i}" for i in range(count))
    index = {f"{prefix}-{i}": i for i in range(count)}
    for lines in (output, errors):
        assert [index[item["custom_id"]] for item in lines] == sorted(
            index[item["custom_id"]] for item in lines
        )
    counts = batch.request_counts
    assert (counts.completed, counts.failed) == (len(output), len(errors))


def test_cancel_keeps_finished_lines_and_stops_the_rest(bs: BatchSystem) -> None:
    client = bs.client()
    batch = submit(client, slow_lines("cancel", 40))
    wait_until(client, batch.id, 2)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled") and cancelling.cancelling_at
    batch = wait_status(client, batch.id, {"cancelled"})
    assert batch.cancelled_at is not None
    assert 2 <= batch.request_counts.completed < 40
    assert_each_once(batch, client, "cancel", 40)
    codes = {e["error"]["code"] for e in read_lines(client, batch.error_file_id)}
    assert "batch_cancelled" in codes
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(next(b.id for b in client.batches.list() if b.status == "completed"))


def test_expired_batch_keeps_what_finished(bs: BatchSystem) -> None:
    client = bs.client()
    batch = submit(client, slow_lines("expire", 60, max_tokens=12), window="3s")
    assert batch.expires_at - batch.created_at == 3
    batch = wait_status(client, batch.id, {"expired", "completed"})
    assert batch.status == "expired" and batch.expired_at is not None
    assert 0 < batch.request_counts.completed < 60
    assert_each_once(batch, client, "expire", 60)
    codes = {e["error"]["code"] for e in read_lines(client, batch.error_file_id)}
    assert "batch_expired" in codes


def test_a_full_queue_holds_the_batch_back_without_failing_lines(bs: BatchSystem) -> None:
    client = bs.client()
    terminate(bs.workers["general"].process, 15)  # general's queue fills up (depth 3)
    batch = submit(client, [line(f"full-{i}", model="laneway/general") for i in range(6)])
    deadline = time.monotonic() + 30
    while bs.redis.hlen(f"laneway:batch:{batch.id}:inflight") < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "in_progress" and batch.request_counts.failed == 0
    assert bs.redis.hlen(f"laneway:batch:{batch.id}:inflight") == 3  # refused lines wait
    bs.start_worker("general")
    batch = wait_status(client, batch.id, {"completed"})
    assert (batch.request_counts.completed, batch.request_counts.failed) == (6, 0)
    assert_each_once(batch, client, "full", 6)


@pytest.mark.timeout(300)
def test_batch_finishes_after_the_api_and_lane_workers_restart(bs: BatchSystem) -> None:
    client = bs.client()
    jobs_before = jobs_of(bs, "tenant-a")
    batch = submit(client, slow_lines("restart", 50, max_tokens=6))
    wait_until(client, batch.id, 4)
    assert bs.api is not None
    bs.api.process.kill()  # a crash: no clean shutdown, the driver lease is left behind
    bs.api.process.wait()
    assert int(bs.redis.hget(f"laneway:batch:{batch.id}", "completed") or 0) < 50  # mid-batch
    for role in ROLES[1:]:
        terminate(bs.workers[role].process, 15)
    for role in ROLES[1:]:
        bs.start_worker(role)
    bs.start_api()
    bs.side.wait_ready(*ROLES)
    client = bs.client()
    batch = wait_status(client, batch.id, {"completed", "failed"}, timeout=180)
    assert batch.status == "completed"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (50, 0)
    assert_each_once(batch, client, "restart", 50)
    output = read_lines(client, batch.output_file_id)
    assert [item["custom_id"] for item in output] == [f"restart-{i}" for i in range(50)]
    assert len({item["response"]["request_id"] for item in output}) == 50
    assert jobs_of(bs, "tenant-a") - jobs_before == 50  # no line was submitted twice


def test_a_tenant_has_at_most_max_open_batches(bs: BatchSystem) -> None:
    client = bs.client()
    first = submit(client, slow_lines("open-1", 30))
    second = submit(client, slow_lines("open-2", 30))
    with pytest.raises(openai.RateLimitError) as refused:  # batch.max_open_batches: 2
        submit(client, slow_lines("open-3", 1))
    assert refused.value.code == "too_many_open_batches"
    submit(bs.client("key-b"), [line("theirs")])  # another tenant's count is its own
    for batch in (first, second):
        client.batches.cancel(batch.id)
    for batch in (first, second):
        wait_status(client, batch.id, {"cancelled"})
    third = submit(client, [line("open-3-0")])
    assert wait_status(client, third.id, {"completed"}).request_counts.completed == 1


def test_other_tenants_files_and_batches_are_not_found(bs: BatchSystem) -> None:
    owner, other = bs.client("key-a"), bs.client("key-b")
    batch = submit(owner, [line("mine")])
    file_id = batch.input_file_id
    for call in (
        lambda: other.files.retrieve(file_id),
        lambda: other.files.content(file_id),
        lambda: other.files.delete(file_id),
        lambda: other.batches.retrieve(batch.id),
        lambda: other.batches.cancel(batch.id),
        lambda: other.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert file_id not in {f.id for f in other.files.list()}
    assert batch.id not in {b.id for b in other.batches.list()}
    batch = wait_status(owner, batch.id, {"completed"})
    with pytest.raises(openai.NotFoundError):
        other.files.content(batch.output_file_id)  # type: ignore[arg-type]
    deleted = owner.files.delete(file_id)
    assert deleted.deleted and deleted.id == file_id
    with pytest.raises(openai.NotFoundError):
        owner.files.retrieve(file_id)
    with pytest.raises(openai.AuthenticationError):
        bs.client("wrong-key").files.list()
