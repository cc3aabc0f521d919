"""Ask an OpenAI-compatible model for the lane, with a hard time bound.

Any timeout, HTTP error or answer that is not strict JSON ``{"lane": ...}`` raises
:class:`StrategyUnavailable`, so a cascade falls through instead of guessing. A timeout
raises :class:`LLMTimeout`, which is also a :class:`ClassificationTimeout`: when the llm
is the whole strategy, ``Classifier.classify`` raises it like any classification timeout.
"""

from __future__ import annotations

import json
import os
import re
import time

import httpx

from classifier.features import last_user_text, requested_max_tokens
from classifier.strategies.base import (
    ClassificationTimeout,
    Decision,
    Request,
    Strategy,
    StrategyUnavailable,
)
from laneway.lanes import Lane, parse_lane

PROMPT = """You route requests to model lanes. Answer with JSON only: {"lane": "<lane>"}.
Lanes:
- fast-path: short prompt, short answer (greeting, single fact, definition, yes/no, simple
  arithmetic or unit conversion, one-sentence translation, spelling fix, labelling a short text).
- general: about a paragraph, no long reasoning (explanation, advice, how-to, comparison,
  short email/letter/poem, role-play).
- high-compute: non-trivial code, multi-step maths or logic, long documents, long reports or
  essays, data analysis over tables, multi-step planning, hard reasoning.
Pick the more expensive lane only when a small model would plausibly get it wrong."""

MAX_CHARS = 4000
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


class LLMTimeout(StrategyUnavailable, ClassificationTimeout):
    """The model did not answer within ``timeout_seconds``."""


class LLMStrategy(Strategy):
    name = "llm"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        timeout_seconds: float = 2.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout_seconds
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout_seconds))

    def close(self) -> None:
        self._client.close()

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _post(self, body: dict[str, object]) -> object:
        """POST and read the answer within ``timeout`` seconds overall (httpx's own
        timeouts are per phase and per read, so a trickling server could exceed them)."""
        deadline = time.monotonic() + self.timeout
        chunks = []
        with self._client.stream(
            "POST",
            self.url,
            json=body,
            headers=self._headers(),
            timeout=httpx.Timeout(self.timeout),
        ) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("overall deadline exceeded")
                if sum(map(len, chunks)) > 1_000_000:
                    raise ValueError("answer too large")
        data = json.loads(b"".join(chunks))
        return data["choices"][0]["message"]["content"]

    def classify(self, request: Request) -> Decision:
        text = last_user_text(request)
        if len(text) > MAX_CHARS:
            text = text[:MAX_CHARS] + f"\n[... {len(text) - MAX_CHARS} more characters]"
        budget = requested_max_tokens(request)
        meta = f"(max_tokens={budget}) " if budget else ""
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": PROMPT},
                {"role": "user", "content": f"{meta}Request:\n{text}"},
            ],
            "temperature": 0,
            "max_tokens": 20,
        }
        try:
            content = self._post(body)
        except httpx.TimeoutException as exc:
            raise LLMTimeout(f"llm: timed out after {self.timeout:g}s") from exc
        except httpx.HTTPStatusError as exc:
            raise StrategyUnavailable(f"llm: HTTP {exc.response.status_code}") from exc
        except httpx.HTTPError as exc:
            raise StrategyUnavailable(f"llm: {type(exc).__name__}: {exc}") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise StrategyUnavailable("llm: response is not an OpenAI chat completion") from exc
        lane = parse_answer(content)
        return Decision(lane, 0.8, f"llm: {self.model} answered {lane}", self.name)


def parse_answer(content: object) -> Lane:
    """The lane in a strict ``{"lane": ...}`` answer (code fences tolerated), else raise."""
    if not isinstance(content, str):
        raise StrategyUnavailable("llm: answer has no text")
    match = _JSON_OBJECT.search(content)
    if not match:
        raise StrategyUnavailable(f"llm: answer is not JSON: {content[:60]!r}")
    try:
        data = json.loads(match.group(0))
        return parse_lane(str(data["lane"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise StrategyUnavailable(f"llm: bad answer {content[:60]!r}") from exc
