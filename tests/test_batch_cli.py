"""``laneway batch``: the CLI process against a real API, real workers and sim backends
(a Redis database and config of their own), interrupted and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from laneway.net import free_port, wait_for_port
from laneway.processes import terminate
from laneway.supervisor import Child
from tests.side_system import SideSystem, side_system
from tests.system import LANEWAY, System

KEYS = "key-a:tenant-a,key-b:tenant-b"
ROLES = ("classify", "fast-path", "general", "high-compute")


@dataclass
class CliSystem:
    side: SideSystem
    api_url: str
    config: Path
    api_env: dict[str, str]
    api: Child

    @property
    def redis(self) -> redis.Redis:
        return self.side.redis

    def http(self, key: str = "key-a") -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30)

    def argv(self, *args: str) -> list[str]:
        return [*LANEWAY, "batch", *args, "--api", self.api_url]

    def env(self, key: str = "key-a") -> dict[str, str]:
        return {**self.side.system.env, "LANEWAY_API_KEY": key}

    def cli(self, *args: str, key: str = "key-a") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), env=self.env(key), capture_output=True, text=True, timeout=120
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture(scope="module")
def cs(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliSystem]:
    folder = tmp_path_factory.mktemp("batchcli")
    with side_system(system, folder, db=10) as side:
        config = side.config(
            "batchcli",
            {"batch": {"storage_url": (folder / "files").as_uri(), "concurrency": 2}},
        )
        env = {**system.env, "LANEWAY_API_KEYS": KEYS}
        for role in ROLES:
            side.start_worker(role, config)
        port = free_port()
        api = _start_api(side, config, env, port)
        side.wait_ready(*ROLES)
        yield CliSystem(side, f"http://127.0.0.1:{port}", config, env, api)


def _start_api(side: SideSystem, config: Path, env: dict[str, str], port: int) -> Child:
    argv = [*LANEWAY, "api", "--port", str(port)]
    child = side.system.supervisor.spawn(
        f"batchcli-api-{port}-{time.monotonic_ns()}", argv, {**env, "LANEWAY_CONFIG": str(config)}
    )
    side.children.append(child)
    if not wait_for_port("127.0.0.1", port, 30):
        raise RuntimeError("API did not start")
    return child


def write_input(path: Path, count: int, model: str = "sim-small", prefix: str = "r") -> Path:
    """``count`` chat lines; ids are not sorted the way strings sort (order must come from
    the input, not from the ids)."""
    lines = [
        {
            "custom_id": f"{prefix}-{(i * 7) % count}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": model,
                "messages": [{"role": "user", "content": f"line {i}"}],
                "max_tokens": 8,
            },
        }
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def input_ids(path: Path) -> list[str]:
    return [json.loads(line)["custom_id"] for line in path.read_text().splitlines()]


def output_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def tenant_jobs(cs: CliSystem, tenant: str = "tenant-a") -> int:
    return int(cs.redis.zcard(f"laneway:tenant:{tenant}:jobs"))


def state(output: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(output.with_name(output.name + ".batch.json").read_text())
    return data


def wait_batch_id(output: Path, process: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            batch_id = state(output)["parts"][-1]["batch_id"]
        except (OSError, ValueError, KeyError, IndexError):
            batch_id = None
        if batch_id:
            return str(batch_id)
        time.sleep(0.05)
    raise AssertionError("no batch id recorded")


def wait_finished(cs: CliSystem, batch_id: str, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    with cs.http() as http:
        while time.monotonic() < deadline:
            counts = http.get(f"/v1/batches/{batch_id}").json()["request_counts"]
            if counts["completed"] + counts["failed"] >= at_least:
                return int(counts["completed"] + counts["failed"])
            time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not reach {at_least} finished lines")


def test_run_writes_results_in_input_order(cs: CliSystem, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 12)
    with (tmp_path / "in.jsonl").open("a") as stream:  # the sim's 400: a failed line
        bad = {"model": "sim-small", "messages": [{"role": "user", "content": "x"}]}
        bad["tools"] = "not a list of tools"
        stream.write(
            json.dumps(
                {"custom_id": "bad", "method": "POST", "url": "/v1/chat/completions", "body": bad}
            )
            + "\n"
        )
    output = tmp_path / "out.jsonl"
    before = tenant_jobs(cs)

    done = cs.cli("run", str(source), "-o", str(output))

    assert done.returncode == 3, done.stderr  # finished, one line failed
    assert "13 lines: 12 succeeded, 1 failed" in done.stderr
    assert "Traceback" not in done.stderr
    results = output_lines(output)
    assert [r["custom_id"] for r in results] == input_ids(source)
    assert all(r["response"]["status_code"] == 200 for r in results[:-1])
    assert results[-1]["error"] is not None and results[-1]["response"]["status_code"] == 400
    assert tenant_jobs(cs) - before == 13
    assert not output.with_name("out.jsonl.batch.json").exists()
    assert not output.with_name("out.jsonl.partial.jsonl").exists()

    again = cs.cli("run", str(source), "-o", str(output))  # a finished output is not redone
    assert again.returncode == 2 and "--force" in again.stderr
    assert tenant_jobs(cs) - before == 13


def test_sigint_then_run_again_sends_each_line_once(cs: CliSystem, tmp_path: Path) -> None:
    # sim-slow: ~0.25 s a line, two at a time (batch.concurrency 2): ~4 s for 30 lines
    source = write_input(tmp_path / "in.jsonl", 30, model="sim-slow")
    output = tmp_path / "out.jsonl"
    before = tenant_jobs(cs)
    process = cs.start("run", str(source), "-o", str(output))
    batch_id = wait_batch_id(output, process)
    wait_finished(cs, batch_id, 4)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    assert "run the same command again" in stderr and "Traceback" not in stderr
    assert not output.exists()
    with cs.http() as http:
        assert http.get(f"/v1/batches/{batch_id}").json()["status"] != "cancelled"

    resumed = cs.cli("run", str(source), "-o", str(output))

    assert resumed.returncode == 0, resumed.stderr
    assert f"re-attached to batch {batch_id}" in resumed.stderr
    results = output_lines(output)
    assert [r["custom_id"] for r in results] == input_ids(source)
    assert all(r["error"] is None for r in results)
    assert len({r["response"]["request_id"] for r in results}) == 30
    assert tenant_jobs(cs) - before == 30  # no line sent twice


def test_run_rides_out_a_restart_of_the_api(cs: CliSystem, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 30, model="sim-slow", prefix="x")
    output = tmp_path / "out.jsonl"
    before = tenant_jobs(cs)
    process = cs.start("run", str(source), "-o", str(output))
    batch_id = wait_batch_id(output, process)
    wait_finished(cs, batch_id, 4)

    terminate(cs.api.process, 15)  # the CLI retries meanwhile; the batch waits in Redis
    port = int(cs.api_url.rsplit(":", 1)[1])
    cs.api = _start_api(cs.side, cs.config, cs.api_env, port)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr
    assert "cannot reach the API" in stderr and "retrying" in stderr
    results = output_lines(output)
    assert [r["custom_id"] for r in results] == input_ids(source)
    assert all(r["error"] is None for r in results)
    assert tenant_jobs(cs) - before == 30


def test_cancelled_batch_resumes_with_only_the_lines_left(cs: CliSystem, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 30, model="sim-slow", prefix="c")
    output = tmp_path / "out.jsonl"
    before = tenant_jobs(cs)
    process = cs.start("run", str(source), "-o", str(output))
    batch_id = wait_batch_id(output, process)
    wait_finished(cs, batch_id, 4)

    cancelled = cs.cli("cancel", batch_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert batch_id in cancelled.stdout and "cancel" in cancelled.stdout
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1 and "ended cancelled" in stderr, stderr
    with cs.http() as http:
        first = http.get(f"/v1/batches/{batch_id}").json()
    ran = first["request_counts"]["completed"]  # "failed" counts the lines never run too
    assert 4 <= ran < 30

    resumed = cs.cli("run", str(source), "-o", str(output))

    assert resumed.returncode == 0, resumed.stderr
    results = output_lines(output)
    assert [r["custom_id"] for r in results] == input_ids(source)
    assert all(r["error"] is None for r in results)
    with cs.http() as http:
        second = next(
            b
            for b in http.get("/v1/batches").json()["data"]
            if b["id"] != batch_id and (b.get("metadata") or {}).get("laneway_part") == "2"
        )
        errors = http.get(f"/v1/files/{first['error_file_id']}/content").text.splitlines()
    assert second["request_counts"]["total"] == 30 - ran  # the finished lines: not again
    # jobs cancelled in the queue by the cancel (no result) ran again in part 2
    queued_then_cancelled = sum(json.loads(e)["error"]["code"] == "cancelled" for e in errors)
    assert tenant_jobs(cs) - before == 30 + queued_then_cancelled


def test_recovers_an_upload_and_a_batch_whose_ids_were_not_recorded(
    cs: CliSystem, tmp_path: Path
) -> None:
    """A crash after the upload (before its id was saved) and one after the batch was
    created (before its id was saved): the run finds both on the server."""
    source = write_input(tmp_path / "in.jsonl", 6, prefix="w")
    output = tmp_path / "out.jsonl"
    crashed = cs.start("run", str(source), "-o", str(output))
    batch_id = wait_batch_id(output, crashed)
    crashed.kill()  # SIGKILL: no clean up
    crashed.communicate()
    recorded = state(output)
    part = recorded["parts"][0]
    part["file_id"] = part["batch_id"] = None  # as if killed right after each call returned
    output.with_name("out.jsonl.batch.json").write_text(json.dumps(recorded))
    with cs.http() as http:
        uploads_before = uploads(http)
        batches_before = len(http.get("/v1/batches", params={"limit": 100}).json()["data"])

    resumed = cs.cli("run", str(source), "-o", str(output))

    assert resumed.returncode == 0, resumed.stderr
    assert batch_id in resumed.stderr
    assert [r["custom_id"] for r in output_lines(output)] == input_ids(source)
    with cs.http() as http:
        assert uploads(http) == uploads_before  # no second upload
        assert len(http.get("/v1/batches", params={"limit": 100}).json()["data"]) == (
            batches_before  # no second batch
        )


def uploads(http: httpx.Client) -> int:
    return len(http.get("/v1/files", params={"purpose": "batch"}).json()["data"])


def test_list_status_and_errors(cs: CliSystem, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 3, prefix="s")
    output = tmp_path / "out.jsonl"
    assert cs.cli("run", str(source), "-o", str(output)).returncode == 0
    with cs.http() as http:
        batch = http.get("/v1/batches").json()["data"][0]

    listed = cs.cli("list")
    assert listed.returncode == 0 and batch["id"] in listed.stdout
    shown = cs.cli("status", batch["id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "completed"
    assert batch["id"] not in cs.cli("list", key="key-b").stdout  # another tenant's

    unknown = cs.cli("status", "batch_nope", key="key-b")
    assert unknown.returncode == 1 and "404" in unknown.stderr
    finished = cs.cli("cancel", batch["id"])
    assert finished.returncode == 1 and "409" in finished.stderr
    refused = cs.cli("list", key="no-such-key")
    assert refused.returncode == 1 and "401" in refused.stderr

    invalid = tmp_path / "invalid.jsonl"
    invalid.write_text('{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions"}\n')
    failed = cs.cli("run", str(invalid), "-o", str(tmp_path / "invalid-out.jsonl"))
    assert failed.returncode == 2 and "failed validation" in failed.stderr
    assert "line 1" in failed.stderr and "Traceback" not in failed.stderr
    assert not (tmp_path / "invalid-out.jsonl.batch.json").exists()

    for result in (listed, shown, unknown, finished, refused, failed):
        assert "Traceback" not in result.stderr


def test_api_down_is_one_clear_line(tmp_path: Path) -> None:
    from laneway.net import free_port

    source = write_input(tmp_path / "in.jsonl", 2)
    api = f"http://127.0.0.1:{free_port()}"
    for args in (
        ["run", str(source), "-o", str(tmp_path / "o.jsonl"), "--reconnect-timeout", "0"],
        ["list"],
        ["status", "batch_x"],
    ):
        result = subprocess.run(
            [*LANEWAY, "batch", *args, "--api", api],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "LANEWAY_API_KEY"},
        )
        assert result.returncode == 1, result.stderr
        assert "cannot reach the API" in result.stderr and "Traceback" not in result.stderr


def test_bad_input_line_is_refused_before_upload(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"custom_id": "a", "url": "/v1/chat/completions"}\n{"custom_id": "a"}\n')
    result = subprocess.run(
        [*LANEWAY, "batch", "run", str(source), "-o", str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LANEWAY_API_URL": "http://127.0.0.1:9"},
    )
    assert result.returncode == 2 and f"{source}:2" in result.stderr, result.stderr


def test_finds_the_running_laneway_up_through_its_run_file(cs: CliSystem, tmp_path: Path) -> None:
    """Without --api, the API of the `laneway up` whose run file is in the data dir."""
    from laneway import runfile

    data = tmp_path / "data"
    run = runfile.RunInfo(os.getpid(), cs.side.redis_url, cs.api_url, None, str(cs.config))
    runfile.write(data, run)
    env = {k: v for k, v in cs.env().items() if k not in ("LANEWAY_CONFIG", "LANEWAY_API_URL")}
    result = subprocess.run(
        [*LANEWAY, "batch", "list", "--json"],
        env={**env, "LANEWAY_DATA_DIR": str(data)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_partial_results_count_each_line_once(tmp_path: Path) -> None:
    """A download collected twice (retried after a lost connection, or a crash before
    the state was saved) and a line torn by a crash: each custom_id counts once."""
    from laneway.batch_run import read_finished

    ok = {"custom_id": "a", "response": {"status_code": 200}, "error": None}
    failed = {"custom_id": "b", "response": {"status_code": 400}, "error": {"code": "x"}}
    lines = [json.dumps(item) for item in (ok, failed, ok, failed)]
    partial = tmp_path / "out.jsonl.partial.jsonl"
    partial.write_text("\n".join(lines) + "\n" + lines[0][:10])

    finished = read_finished(partial)

    assert finished.offsets == {"a": 0, "b": len(lines[0]) + 1}
    assert finished.failed == 1
    assert read_finished(tmp_path / "missing").offsets == {}
