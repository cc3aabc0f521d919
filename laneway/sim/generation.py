"""OpenAI-shaped bodies and SSE chunks for a generated answer."""

from __future__ import annotations

import heapq
import json
import os
import time
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from laneway.sim.engine import Sequence
from laneway.sim.parsing import Kind
from laneway.sim.profiles import Profile

DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    fragments: list[str]
    """The arguments (a JSON object) in the pieces a stream sends, one per token."""

    @property
    def arguments(self) -> str:
        return "".join(self.fragments)


@dataclass(slots=True)
class Answer:
    """Everything needed to render one response, streamed or not."""

    kind: Kind
    model: str
    fingerprint: str
    choices: list[list[str]]
    """The tokens of each of the ``n`` choices."""
    finish_reason: str
    prompt_tokens: int
    include_usage: bool = False
    tools: tuple[str, ...] = ()
    """Functions each choice calls (its tokens become their arguments)."""
    sparse: bool = False
    """Leave out what some servers leave out (see ``FaultSettings.sparse``)."""

    @property
    def usage(self) -> dict[str, int]:
        completion = sum(len(tokens) for tokens in self.choices)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    @property
    def finish(self) -> str:
        return "tool_calls" if self.tools and self.finish_reason == "stop" else self.finish_reason

    def tool_calls(self, tokens: list[str]) -> list[ToolCall]:
        """One call per function; the tokens are dealt out among their arguments."""
        calls = []
        for k, name in enumerate(self.tools):
            words = [_dumps(token)[1:-1] for token in tokens[k :: len(self.tools)]] or [""]
            words[0] = '{"text":"' + words[0]
            words[-1] += '"}'
            calls.append(ToolCall(f"call_{os.urandom(12).hex()}", name, words))
        return calls


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _sparse(body: dict[str, Any]) -> dict[str, Any]:
    for key in ("id", "created", "system_fingerprint"):
        body.pop(key, None)
    if body.get("usage", 0) is None:
        del body["usage"]
    for choice in body.get("choices", ()):
        choice.pop("logprobs", None)
        if choice.get("finish_reason", 0) is None:
            del choice["finish_reason"]
    return body


def _header(answer: Answer, object_name: str, id_prefix: str) -> dict[str, Any]:
    return {
        "id": f"{id_prefix}-{os.urandom(12).hex()}",
        "object": object_name,
        "created": int(time.time()),
        "model": answer.model,
        "system_fingerprint": answer.fingerprint,
    }


def response_body(answer: Answer) -> bytes:
    # Like llama.cpp and vLLM, the sim leaves out message.refusal, which OpenAI's
    # spec requires: laneway fills it in, and the tests check that it does.
    chat = answer.kind == "chat"
    if chat:
        body = _header(answer, "chat.completion", "chatcmpl")
    else:
        body = _header(answer, "text_completion", "cmpl")
    choices = []
    for index, tokens in enumerate(answer.choices):
        text = "".join(tokens)
        choice: dict[str, Any] = {"index": index}
        if not chat:
            choice["text"] = text
        elif answer.tools:
            calls = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in answer.tool_calls(tokens)
            ]
            choice["message"] = {"role": "assistant", "content": None, "tool_calls": calls}
        else:
            choice["message"] = {"role": "assistant", "content": text}
        choice["logprobs"] = None
        choice["finish_reason"] = answer.finish
        choices.append(choice)
    body["choices"] = choices
    body["usage"] = answer.usage
    return _dumps(_sparse(body) if answer.sparse else body).encode()


def _choice_events(answer: Answer, index: int, tokens: list[str]) -> Iterator[tuple[int, str]]:
    """The streamed choice objects of one choice, each with the token it waits for."""
    end = '"logprobs":null,"finish_reason":null}'
    if answer.kind != "chat":
        for i, token in enumerate(tokens):
            yield i, f'{{"index":{index},"text":{_dumps(token)},{end}'
        return
    if not answer.tools:
        yield 0, f'{{"index":{index},"delta":{{"role":"assistant","content":""}},{end}'
        for i, token in enumerate(tokens):
            yield i, f'{{"index":{index},"delta":{{"content":{_dumps(token)}}},{end}'
        return
    due = 0
    for k, call in enumerate(answer.tool_calls(tokens)):
        opening: dict[str, Any] = {
            "index": k,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        delta: dict[str, Any] = {"tool_calls": [opening]}
        if k == 0:
            delta = {"role": "assistant", "content": None, **delta}
        yield due, _chunk_choice(index, delta)
        for fragment in call.fragments:
            arguments = {"index": k, "function": {"arguments": fragment}}
            yield due, _chunk_choice(index, {"tool_calls": [arguments]})
            due += 1


def _chunk_choice(index: int, delta: dict[str, Any]) -> str:
    return _dumps({"index": index, "delta": delta, "logprobs": None, "finish_reason": None})


async def sse_chunks(
    answer: Answer, profile: Profile, sequence: Sequence
) -> AsyncGenerator[bytes, None]:
    """Yield ``data: ...`` events paced by the profile on the engine's shared work clock;
    never sleeps when the profile has no delay."""
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
        if answer.sparse:
            chunk = _sparse(json.loads(_dumps(header)[:-1] + ',"choices":[' + choice + "]}"))
            return f"data: {_dumps(chunk)}\n\n".encode()
        return (prefix + choice + suffix).encode()

    pace = profile.has_delay
    seconds_per_token = profile.seconds_per_token
    ttft = profile.ttft_seconds

    streams = [_choice_events(answer, c, tokens) for c, tokens in enumerate(answer.choices)]
    # Choices are generated side by side: their chunks interleave token by token.
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(0))
    for i, choice in merged:
        if pace:
            await sequence.wait_for_work(ttft + i * seconds_per_token)
        yield event(choice)

    finish = _dumps(answer.finish)
    for index in range(len(answer.choices)):
        if chat:
            yield event(
                f'{{"index":{index},"delta":{{}},"logprobs":null,"finish_reason":{finish}}}'
            )
        else:
            yield event(f'{{"index":{index},"text":"","logprobs":null,"finish_reason":{finish}}}')
    if answer.include_usage:
        usage = {**header, "choices": [], "usage": answer.usage}
        yield f"data: {_dumps(_sparse(usage) if answer.sparse else usage)}\n\n".encode()
    yield DONE
