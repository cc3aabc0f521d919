"""A schema fuzz run: schemathesis sends requests generated from the OpenAPI document,
valid and invalid, to the real API; none may get a 5xx, an undocumented status or
content type, or a body its schema does not allow, and no invalid request may be
accepted. Bounded here; `make fuzz` runs it longer (LANEWAY_FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from laneway.settings import Settings
from tests.system import System

EXAMPLES = int(os.environ.get("LANEWAY_FUZZ_EXAMPLES", "25"))
"""Generated cases per operation (ten operations); four times as many workflows, so
that enough of them submit a valid job before following its links."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
WORKFLOWS = settings(FUZZ, max_examples=4 * EXAMPLES, stateful_step_count=4)

# The document the API serves, built from the same code (a test checks they agree),
# so that the cases can be generated when the module is collected.
OPENAPI = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture(scope="module")
def api_url(system: System) -> str:
    return system.api_url


def test_the_api_serves_the_fuzzed_document(api_url: str) -> None:
    assert httpx.get(f"{api_url}/openapi.json").json() == OPENAPI


@schema.parametrize()
@FUZZ
def test_every_operation_answers_as_its_schema_says(case: schemathesis.Case, api_url: str) -> None:
    case.call_and_validate(base_url=api_url, checks=CHECKS, timeout=60)


def test_job_workflows_answer_as_the_schema_says(api_url: str) -> None:
    """Calls chained along the links schemathesis finds in the document: submit a job,
    then read or cancel that very job (random ids alone only ever meet 404s)."""
    answered: set[tuple[str, int]] = set()

    # Files and batches have no links to follow: their operations would only thin out
    # the workflows that submit a job and then read it.
    jobs_schema = schema.exclude(tag=["files", "batches"])

    class Workflow(jobs_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": api_url, "timeout": 60}

        def validate_response(  # type: ignore[override]
            self, response: schemathesis.Response, case: schemathesis.Case, **_: Any
        ) -> None:
            answered.add((f"{case.method} {case.path}", response.status_code))
            case.validate_response(response, checks=CHECKS)

    Workflow.run(settings=WORKFLOWS)
    assert ("GET /v1/jobs/{job_id}", 200) in answered, answered
