"""JSON logs: every worker line is a JSON object; lines about a job carry its id, lane,
backend and tenant; prompts and keys never appear."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from laneway.logs import MASK, JobFields, MaskSecrets, job_context
from laneway.net import free_port, wait_for_port
from tests.side_system import side_system
from tests.sim_helpers import start_sim_backend
from tests.system import LANEWAY, System, chat, wait_job

TENANT = "acme-logs"
API_KEY = "lw-test-" + uuid.uuid4().hex
BACKEND_KEY = "sk-backend-" + uuid.uuid4().hex


def parsed_lines(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{path.name}: not a JSON line: {line!r}") from None
    return records


def wait_for_line(path: Path, *parts: str, timeout: float = 20) -> None:
    """Wait until a line of ``path`` holds every one of ``parts``."""
    deadline = time.monotonic() + timeout
    while not any(all(p in line for p in parts) for line in path.read_text().splitlines()):
        assert time.monotonic() < deadline, f"{path.name}: no line with {parts}"
        time.sleep(0.05)


def test_a_job_logged_in_json_carries_its_fields_and_never_its_prompt_or_keys(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> None:
    flaky = start_sim_backend("--profile", "medium", "--name", "flaky", "--error-rate", "1")
    try:
        with side_system(system, tmp_path_factory.mktemp("jsonlogs"), db=11) as side:
            config = side.config(
                "json",
                {
                    "log_format": "json",
                    "lanes": {
                        "general": {
                            "backends": [
                                {
                                    "name": "flaky",
                                    "base_url": flaky.base_url,
                                    "model": "sim-medium",
                                    "api_key_env": "LANEWAY_TEST_BACKEND_KEY",
                                }
                            ],
                            "fallback": ["high-compute"],
                        }
                    },
                    "retry": {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05},
                },
            )
            env = {
                **system.env,
                "LANEWAY_CONFIG": str(config),
                "LANEWAY_TEST_BACKEND_KEY": BACKEND_KEY,
                "LANEWAY_API_KEYS": f"{API_KEY}:{TENANT}",
            }
            names = {}
            for role in ("classify", "general", "high-compute"):
                name = f"jsonlogs-{role}"
                argv = [*LANEWAY, "worker", "--lane", role]
                side.children.append(system.supervisor.spawn(name, argv, env))
                names[role] = name
            side.wait_ready("classify", "general", "high-compute")
            prompt = "a prompt that must stay out of the logs " + uuid.uuid4().hex
            port = free_port()
            argv = [*LANEWAY, "api", "--port", str(port)]
            side.children.append(system.supervisor.spawn("jsonlogs-api", argv, env))
            assert wait_for_port("127.0.0.1", port, 30)
            api = f"http://127.0.0.1:{port}"
            with httpx.Client(
                base_url=api, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
            ) as client:
                job_id = client.post("/v1/jobs", json=chat(prompt, route="general")).json()["id"]
                job = wait_job(client, job_id)
            assert job["status"] == "succeeded", job
            assert job["lane"] == "high-compute"  # after three failures on flaky

            logs = system.supervisor.log_dir
            # Celery logs a task's end after the task has finished the job
            wait_for_line(logs / f"{names['high-compute']}.log", job_id, "succeeded in")
            about_job = []
            for role, name in names.items():
                path = logs / f"{name}.log"
                text = path.read_text()
                assert prompt not in text, role
                assert BACKEND_KEY not in text and API_KEY not in text, role
                for record in parsed_lines(path):
                    assert {"time", "level", "name", "message"} <= record.keys(), record
                    if job_id in json.dumps(record):
                        about_job.append((role, record))
            api_log = (logs / "jsonlogs-api.log").read_text()
            assert prompt not in api_log and API_KEY not in api_log
            parsed_lines(logs / "jsonlogs-api.log")  # whatever the API wrote is JSON too
            by_role = {role for role, _ in about_job}
            assert {"general", "high-compute"} <= by_role, about_job
            for role, record in about_job:
                assert record["job_id"] == job_id, record
                assert record["lane"] == role, record
                assert "backend" in record, record
                if record["name"] == "celery.worker.strategy":
                    # the arrival, logged before the job's record is read
                    assert record["tenant"] is None and record["backend"] is None, record
                else:
                    assert record["tenant"] == TENANT, record
            failures = [r for role, r in about_job if "flaky failed" in r["message"]]
            assert failures and all(r["backend"] == "flaky" for r in failures)
            finished = [r for role, r in about_job if role == "high-compute" and r["backend"]]
            assert finished and all(r["backend"] == job["backend"] for r in finished), finished
    finally:
        flaky.stop()


def test_secrets_are_masked_in_messages_and_tracebacks() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(JobFields())
    handler.addFilter(MaskSecrets([BACKEND_KEY]))
    logger = logging.getLogger("laneway.test.masking")
    logger.addHandler(handler)
    try:
        with job_context("job-1", "general"):
            logger.warning("calling with key %s", BACKEND_KEY)
            try:
                raise RuntimeError(f"bad key {BACKEND_KEY}")
            except RuntimeError:
                logger.exception("failed")
        logger.warning("no job here")
    finally:
        logger.removeHandler(handler)
    shown = [handler.format(r) for r in records]
    assert all(BACKEND_KEY not in line for line in shown), shown
    assert shown[0] == f"calling with key {MASK}"
    assert MASK in shown[1] and "RuntimeError" in shown[1]
    assert records[0].job_id == "job-1" and records[0].lane == "general"  # type: ignore[attr-defined]
    assert not hasattr(records[2], "job_id")
