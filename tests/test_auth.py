"""API keys map to tenants; tenants see only their own jobs; open binds need keys."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.system import System, chat, wait_job


@pytest.fixture(scope="module")
def keyed_api(system: System) -> str:
    return system.start_api(env={"LANEWAY_API_KEYS": "key-alice:alice, key-bob:bob"})


def test_missing_or_wrong_key_is_401(keyed_api: str) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"x-api-key": "nope"}):
        response = httpx.post(f"{keyed_api}/v1/jobs", json=chat("hi"), headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "invalid_api_key"


def test_tenants_see_only_their_own_jobs(keyed_api: str) -> None:
    alice = httpx.Client(base_url=keyed_api, headers={"Authorization": "Bearer key-alice"})
    bob = httpx.Client(base_url=keyed_api, headers={"x-api-key": "key-bob"})
    with alice, bob:
        job_id = alice.post("/v1/jobs", json=chat("hi")).json()["id"]
        assert wait_job(alice, job_id)["status"] == "succeeded"
        hidden = bob.get(f"/v1/jobs/{job_id}")
        assert hidden.status_code == 404
        # Idempotency keys are per tenant: bob's "k" is not alice's "k".
        a = alice.post("/v1/jobs", json=chat("hi", idempotency_key="k")).json()
        b = bob.post("/v1/jobs", json=chat("hi", idempotency_key="k")).json()
        assert a["id"] != b["id"] and a["created"] and b["created"]


def test_public_bind_without_keys_is_refused(system: System) -> None:
    env = {k: v for k, v in system.env.items() if k != "LANEWAY_API_KEYS"}
    result = subprocess.run(
        [sys.executable, "-m", "laneway.cli", "api", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in result.stderr
