"""Checks a request must pass before it becomes a job: nothing is written for a refusal."""

from __future__ import annotations

from laneway.requests import Request, estimate_tokens, output_budget, request_text
from laneway.settings import Settings


class RequestRejected(Exception):
    """A request no configuration of this system can serve, refused with a 400."""

    def __init__(self, message: str, *, param: str | None, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def largest_context_window(settings: Settings) -> int | None:
    windows = [b.context_window for lane in settings.lanes.values() for b in lane.backends]
    return max(windows) if windows else None


def check_context(settings: Settings, request: Request) -> None:
    """Refuse a request whose prompt plus output budget fits no configured backend."""
    largest = largest_context_window(settings)
    if largest is None:
        return
    prompt = estimate_tokens(request_text(request))
    budget = output_budget(request)
    if prompt + budget <= largest:
        return
    param = "max_tokens" if budget and prompt < largest else "messages"
    if param == "max_tokens" and "max_completion_tokens" in request:
        param = "max_completion_tokens"
    if "messages" not in request and param == "messages":
        param = "prompt"
    raise RequestRejected(
        f"This request needs about {prompt + budget} tokens of context (a prompt of about "
        f"{prompt} tokens plus {budget} tokens of output), but the largest context window "
        f"of any configured backend is {largest} tokens. "
        + ("Shorten the prompt or lower max_tokens." if budget else "Shorten the prompt."),
        param=param,
        code="context_length_exceeded",
    )
