"""Rules when they are sure, else the embedding model, else (optionally) an LLM."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from classifier.strategies.base import Decision, Request, Strategy, StrategyUnavailable

log = logging.getLogger(__name__)


class CascadeStrategy(Strategy):
    name = "cascade"

    def __init__(
        self, rules: Strategy, model: Strategy, llm: Strategy | None = None, threshold: float = 0.75
    ) -> None:
        self.rules = rules
        self.model = model
        self.llm = llm
        self.threshold = threshold
        self.batched = model.batched
        self.version = model.version

    def quick(self, request: Request) -> Decision | None:
        decision = self.rules.classify(request)
        if decision.confidence >= self.threshold:
            return self._tag(decision, "rules")
        return None

    def _tag(self, decision: Decision, stage: str) -> Decision:
        return Decision(
            decision.lane, decision.confidence, f"cascade[{stage}] {decision.reason}", self.name
        )

    def classify(self, request: Request) -> Decision:
        return self.classify_batch([request])[0]

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        results: list[Decision | None] = []
        pending: list[int] = []
        for index, request in enumerate(requests):
            decision = self.rules.classify(request)
            if decision.confidence >= self.threshold:
                results.append(self._tag(decision, "rules"))
            else:
                results.append(None)
                pending.append(index)
        if pending:
            model_decisions = self.model.classify_batch([requests[i] for i in pending])
            for index, decision in zip(pending, model_decisions, strict=True):
                final = self._tag(decision, self.model.name)
                if self.llm is not None and decision.confidence < self.threshold:
                    try:
                        final = self._tag(self.llm.classify(requests[index]), self.llm.name)
                    except StrategyUnavailable as exc:
                        log.info("llm stage unavailable, keeping %s: %s", decision.lane, exc)
                        final = Decision(
                            final.lane,
                            final.confidence,
                            f"{final.reason} (llm fell through: {exc})",
                            self.name,
                        )
                results[index] = final
        return [d for d in results if d is not None]
