"""Request-shape rules: cheap signals that need no model.

Each rule returns a confidence that says how sure it is: high (>= 0.85) only for strong
signals (tools, a huge input or output budget, fenced code, an explicit request to write
code, a long pasted document to summarise, a greeting); mid (0.75-0.85) for clear
patterns; low (< 0.75) when the rules are only guessing, so a cascade asks a model.
"""

from __future__ import annotations

from classifier import features as f
from classifier.strategies.base import Decision, Request, Strategy
from laneway.lanes import FAST_PATH, GENERAL, HIGH_COMPUTE, Lane


class RulesStrategy(Strategy):
    name = "rules"

    def _decide(self, lane: Lane, confidence: float, reason: str) -> Decision:
        return Decision(lane, round(confidence, 3), f"rules: {reason}", self.name)

    def classify(self, request: Request) -> Decision:
        s = f.shape(request)
        head = s.last_user[:400]
        numbers = s.numbers + s.number_words

        # Strong signals from the request's shape.
        if s.tools:
            return self._decide(HIGH_COMPUTE, 0.9, "request carries tools")
        if s.tokens > 1500:
            return self._decide(HIGH_COMPUTE, 0.95, f"large input ({s.tokens} tokens)")
        if s.max_tokens >= 2000:
            return self._decide(
                HIGH_COMPUTE, 0.9, f"large output budget (max_tokens {s.max_tokens})"
            )
        if s.fence or (s.code_syntax >= 4 and s.code_words >= 1):
            return self._decide(HIGH_COMPUTE, 0.9, "code in the request")
        if s.write_code and s.code_words >= 1:
            return self._decide(HIGH_COMPUTE, 0.85, "asks to write or fix code")
        if s.words >= 400 and f.SUMMARISE.search(head):
            return self._decide(
                HIGH_COMPUTE, 0.9, f"summarise/analyse a long text ({s.words} words)"
            )
        if s.words >= 500:
            return self._decide(HIGH_COMPUTE, 0.8, f"long pasted text ({s.words} words)")
        if numbers >= 3 and s.math_question and s.words >= 25:
            return self._decide(HIGH_COMPUTE, 0.8, f"maths word problem ({numbers} quantities)")
        if f.LONG_OUTPUT.search(head) and s.words >= 8 and not f.WRITE_SHORT.search(head):
            return self._decide(HIGH_COMPUTE, 0.65, "asks for a long or detailed output")

        # Small requests.
        if 0 < s.max_tokens <= 32 and s.words < 150:
            return self._decide(FAST_PATH, 0.85, f"tiny output budget (max_tokens {s.max_tokens})")
        if s.words <= 8 and f.GREETING.search(head):
            return self._decide(FAST_PATH, 0.9, "greeting or small talk")
        if s.words <= 12 and (f.ARITHMETIC.search(head) or f.SIMPLE_ARITH.search(head)):
            return self._decide(FAST_PATH, 0.85, "simple arithmetic")
        if s.words <= 15 and numbers >= 1 and f.UNIT_CONVERSION.search(head):
            return self._decide(FAST_PATH, 0.8, "unit conversion")
        if s.words <= 25 and f.TRANSLATE.search(head):
            return self._decide(FAST_PATH, 0.8, "short translation")
        if s.words <= 8 and f.DEFINITION.search(head):
            return self._decide(FAST_PATH, 0.8, "short definition")
        if s.words <= 150 and f.CLASSIFY_TASK.search(head) and not f.HOW_TO.search(head):
            return self._decide(FAST_PATH, 0.7, "labelling or extraction of a short text")
        if 0 < s.max_tokens <= 64 and s.words < 60:
            return self._decide(FAST_PATH, 0.75, f"small output budget (max_tokens {s.max_tokens})")

        # Middle ground.
        if f.WRITE_SHORT.search(head) and s.words < 80:
            return self._decide(GENERAL, 0.7, "short piece of writing")
        if f.HOW_TO.search(head) and s.words >= 5:
            return self._decide(GENERAL, 0.6, "explanation, advice or how-to")
        if s.code_words >= 2:
            return self._decide(HIGH_COMPUTE, 0.55, "code vocabulary")
        if s.words < 6:
            return self._decide(FAST_PATH, 0.65, f"very short prompt ({s.words} words)")
        if s.words <= 12 and f.QUESTION_WORD.search(head):
            return self._decide(FAST_PATH, 0.55, "short factual question")
        if s.words >= 150:
            return self._decide(HIGH_COMPUTE, 0.55, f"long prompt ({s.words} words)")
        return self._decide(GENERAL, 0.5, "no strong signal")
