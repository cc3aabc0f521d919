"""What a request asks for, read from its OpenAI body: its text, its size in tokens,
and the output budget it claims — shared by the API, the classifier and the workers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Request = Mapping[str, Any]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def request_text(request: Request) -> str:
    """All user-visible text of a chat or completions request."""
    messages = request.get("messages")
    if isinstance(messages, list):
        return "\n".join(_content_text(m.get("content")) for m in messages if isinstance(m, dict))
    prompt = request.get("prompt")
    if isinstance(prompt, list):
        return "\n".join(str(p) for p in prompt)
    return str(prompt or "")


def estimate_tokens(text: str) -> int:
    """About four characters per token, the usual rule of thumb for English BPE."""
    return max(1, (len(text) + 3) // 4) if text else 0


def output_budget(request: Request) -> int:
    """The completion tokens the request reserves (``max_completion_tokens`` or
    ``max_tokens``), 0 when it sets none."""
    for field in ("max_completion_tokens", "max_tokens"):
        value = request.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def context_needed(request: Request) -> int:
    """Tokens of context a backend needs for the request: its prompt plus the output it
    reserves. A backend whose window is smaller cannot answer it in full."""
    return estimate_tokens(request_text(request)) + output_budget(request)
