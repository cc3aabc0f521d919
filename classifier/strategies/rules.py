"""Request-shape rules: cheap signals that need no model."""

from __future__ import annotations

import re

from classifier.strategies.base import Decision, Request, Strategy
from classifier.text import estimate_tokens, request_text
from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE

_CODE = re.compile(
    r"```|\b(def|class|function|python|javascript|java|c\+\+|sql|regex|algorithm|debug|"
    r"implement|code|program|script|compile)\b",
    re.IGNORECASE,
)
_MATH = re.compile(r"\b(how many|how much|calculate|solve|prove|equation|probability)\b", re.I)


class RulesStrategy(Strategy):
    name = "rules"

    def classify(self, request: Request) -> Decision:
        text = request_text(request)
        tokens = estimate_tokens(text)
        max_tokens = request.get("max_tokens") or request.get("max_completion_tokens") or 0
        if request.get("tools"):
            return Decision(HIGH_COMPUTE, 0.8, "rules: request carries tools", self.name)
        if tokens > 1500 or max_tokens >= 2000:
            return Decision(
                HIGH_COMPUTE, 0.85, f"rules: large request ({tokens} input tokens, "
                f"max_tokens {max_tokens})", self.name,
            )
        if _CODE.search(text):
            return Decision(HIGH_COMPUTE, 0.7, "rules: code keywords", self.name)
        if _MATH.search(text) and tokens > 25:
            return Decision(HIGH_COMPUTE, 0.6, "rules: maths word problem", self.name)
        if tokens <= 12:
            return Decision(FAST_PATH, 0.7, f"rules: short prompt ({tokens} tokens)", self.name)
        return Decision(GENERAL, 0.5, "rules: no strong signal", self.name)
