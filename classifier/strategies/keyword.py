"""The design document's keyword baseline, kept only as a benchmark anchor.

Code-keyword regex -> high-compute, fewer than 10 words -> fast-path, else general.
"""

from __future__ import annotations

import re

from classifier.strategies.base import Decision, Request, Strategy
from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE
from laneway.requests import request_text

CODE_KEYWORDS = re.compile(
    r"```|\b(def|class|function|python|javascript|java|c\+\+|sql|regex|algorithm|debug|"
    r"implement|code|program|script|compile)\b",
    re.IGNORECASE,
)


class KeywordStrategy(Strategy):
    name = "keyword"

    def classify(self, request: Request) -> Decision:
        text = request_text(request)
        if CODE_KEYWORDS.search(text):
            return Decision(HIGH_COMPUTE, 0.5, "keyword: code keyword", self.name)
        words = len(text.split())
        if words < 10:
            return Decision(FAST_PATH, 0.5, f"keyword: {words} words (< 10)", self.name)
        return Decision(GENERAL, 0.5, f"keyword: {words} words, no code keyword", self.name)
