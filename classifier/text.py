"""Text extraction and token estimates shared by strategies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Request = Mapping[str, Any]
"""Same alias as ``classifier.strategies.base.Request`` (kept here to avoid an import cycle)."""


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
