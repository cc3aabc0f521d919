"""A request's context need (prompt plus output budget) decides where it may run."""

from __future__ import annotations

from typing import Any

import pytest

from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE
from laneway.requests import context_needed, output_budget
from laneway.settings import Settings
from producer.admission import RequestRejected, check_context
from tests.system import System, chat, job_keys
from workers.policies.context import larger_context_lane


def _settings(**windows: int) -> Settings:
    def lane(name: str, window: int) -> dict[str, Any]:
        backend = {"name": name, "base_url": "http://127.0.0.1:1/v1", "model": name}
        return {"backends": [{**backend, "context_window": window}]}

    return Settings(
        lanes={
            FAST_PATH: lane("small", windows.get("fast", 4096)),
            GENERAL: lane("medium", windows.get("general", 16384)),
            HIGH_COMPUTE: lane("large", windows.get("high", 65536)),
        }
    )


def test_output_budget_counts_toward_the_context_needed() -> None:
    request = chat("hi", max_tokens=1000)
    assert output_budget(request) == 1000
    assert context_needed(request) == 1000 + 1
    assert output_budget(chat("hi", max_completion_tokens=7, max_tokens=9)) == 7
    assert output_budget(chat("hi")) == 0


def test_a_move_for_context_only_ever_goes_to_a_larger_window() -> None:
    settings = _settings()
    # high-compute holds the largest window: there is nowhere larger to go
    assert larger_context_lane(settings, HIGH_COMPUTE, 10**9, []) is None
    assert larger_context_lane(settings, HIGH_COMPUTE, 100, []) is None
    # a backend said "too long" for a need our estimate thought fitted: still go larger
    assert larger_context_lane(settings, GENERAL, 100, []) == HIGH_COMPUTE
    assert larger_context_lane(settings, FAST_PATH, 10_000, []) == GENERAL
    assert larger_context_lane(settings, FAST_PATH, 20_000, []) == HIGH_COMPUTE
    assert larger_context_lane(settings, FAST_PATH, 20_000, [HIGH_COMPUTE]) is None


def test_a_request_no_backend_can_hold_is_refused_before_anything_is_written() -> None:
    settings = _settings()
    check_context(settings, chat("hi", max_tokens=65_000))
    with pytest.raises(RequestRejected) as refused:
        check_context(settings, chat("hi", max_tokens=1_000_000_000))
    assert refused.value.code == "context_length_exceeded"
    assert refused.value.param == "max_tokens"
    assert "65536" in refused.value.message
    with pytest.raises(RequestRejected) as too_long:
        check_context(settings, chat("word " * 70_000))
    assert too_long.value.param == "messages"


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/chat/completions"])
def test_the_api_answers_400_context_length_exceeded_and_writes_nothing(
    system: System, path: str
) -> None:
    before = job_keys(system.redis)
    body = {"model": "auto", **chat("hi", max_tokens=1_000_000_000)}
    with system.client() as client:
        response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["param"] == "max_tokens"
    assert error["type"] == "invalid_request_error"
    assert job_keys(system.redis) == before
