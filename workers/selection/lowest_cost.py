"""The cheapest backend whose context window holds the request (prompt plus output
budget) and has room; when none holds it, every backend in price order (the call's
context-length error then moves the job to a lane with a larger window)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from laneway.requests import estimate_tokens, output_budget, request_text
from laneway.settings import BackendConfig
from workers.selection.plan import JobFacts, Observation, Plan


def fits(backend: BackendConfig, prompt_tokens: int, budget: int) -> bool:
    """The backend client's own test before a call (workers/backends.py)."""
    return (
        prompt_tokens < backend.context_window and prompt_tokens + budget <= backend.context_window
    )


def estimated_cost(backend: BackendConfig, prompt_tokens: int, budget: int) -> float:
    return prompt_tokens * backend.price_per_1k_input + budget * backend.price_per_1k_output


def cheapest_first(
    pool: Sequence[BackendConfig], request: Mapping[str, Any]
) -> list[BackendConfig]:
    prompt_tokens = estimate_tokens(request_text(request))
    budget = output_budget(request)
    fitting = [b for b in pool if fits(b, prompt_tokens, budget)] or list(pool)
    return sorted(
        fitting,
        key=lambda b: (
            estimated_cost(b, prompt_tokens, budget),
            b.price_per_1k_output,
            b.price_per_1k_input,
        ),
    )


class LowestCost:
    needs_job = True

    def plan(self, pool: Sequence[BackendConfig], job: JobFacts | None) -> Plan:
        return Plan(cheapest_first(pool, job.request if job else {}), "ordered")

    def observe(self, backend: BackendConfig, latency_ms: float) -> Observation | None:
        return None
