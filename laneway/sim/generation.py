"""OpenAI-shaped bodies and SSE chunks for a generated answer."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from laneway.sim.parsing import Kind
from laneway.sim.profiles import Profile

DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class Answer:
    """Everything needed to render one response, streamed or not."""

    kind: Kind
    model: str
    fingerprint: str
    tokens: list[str]
    finish_reason: str
    prompt_tokens: int
    include_usage: bool = False

    @property
    def usage(self) -> dict[str, int]:
        completion = len(self.tokens)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _header(answer: Answer, object_name: str, id_prefix: str) -> dict[str, Any]:
    return {
        "id": f"{id_prefix}-{os.urandom(12).hex()}",
        "object": object_name,
        "created": int(time.time()),
        "model": answer.model,
        "system_fingerprint": answer.fingerprint,
    }


def response_body(answer: Answer) -> bytes:
    text = "".join(answer.tokens)
    if answer.kind == "chat":
        body = _header(answer, "chat.completion", "chatcmpl")
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": None,
            "finish_reason": answer.finish_reason,
        }
    else:
        body = _header(answer, "text_completion", "cmpl")
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": answer.finish_reason}
    body["choices"] = [choice]
    body["usage"] = answer.usage
    return _dumps(body).encode()


async def sse_chunks(answer: Answer, profile: Profile) -> AsyncGenerator[bytes, None]:
    """Yield ``data: ...`` events paced by the profile; never sleeps when it has no delay."""
    chat = answer.kind == "chat"
    header = (
        _header(answer, "chat.completion.chunk", "chatcmpl")
        if chat
        else _header(answer, "text_completion", "cmpl")
    )
    # Every chunk shares the same prefix; render it once instead of per token.
    prefix = "data: " + _dumps(header)[:-1] + ',"choices":['
    suffix = '],"usage":null}\n\n' if answer.include_usage else "]}\n\n"

    def event(choice: str) -> bytes:
        return (prefix + choice + suffix).encode()

    loop = asyncio.get_running_loop()
    start = loop.time()
    pace = profile.has_delay
    seconds_per_token = profile.seconds_per_token
    due = start + profile.ttft_seconds

    for i, token in enumerate(answer.tokens):
        if pace:
            delay = due + i * seconds_per_token - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if chat:
            if i == 0:
                yield event(
                    '{"index":0,"delta":{"role":"assistant","content":""},'
                    '"logprobs":null,"finish_reason":null}'
                )
            yield event(
                f'{{"index":0,"delta":{{"content":{_dumps(token)}}},'
                '"logprobs":null,"finish_reason":null}'
            )
        else:
            yield event(
                f'{{"index":0,"text":{_dumps(token)},"logprobs":null,"finish_reason":null}}'
            )

    finish = _dumps(answer.finish_reason)
    if chat:
        yield event(f'{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":{finish}}}')
    else:
        yield event(f'{{"index":0,"text":"","logprobs":null,"finish_reason":{finish}}}')
    if answer.include_usage:
        yield (prefix + '],"usage":' + _dumps(answer.usage) + "}\n\n").encode()
    yield DONE
