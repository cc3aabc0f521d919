"""The classifier service: a strategy + optional shared cache + optional micro-batcher.

``Classifier.classify`` never raises: any failure of the strategy becomes
``Decision("general", 0.0, "fallback: <error>", "fallback")``, which is never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from classifier.batcher import MicroBatcher
from classifier.cache import FALLBACK_STRATEGY, ClassificationCache
from classifier.strategies import build_strategy
from classifier.strategies.base import Decision, Request, Strategy
from laneway.lanes import GENERAL
from laneway.settings import ClassifierConfig

log = logging.getLogger(__name__)


def fallback(error: BaseException) -> Decision:
    message = str(error) or type(error).__name__
    return Decision(GENERAL, 0.0, f"fallback: {message}"[:300], FALLBACK_STRATEGY)


class Classifier:
    def __init__(
        self,
        strategy: Strategy,
        cache: ClassificationCache | None = None,
        batch: bool = False,
        max_batch: int = 32,
    ) -> None:
        self.strategy = strategy
        self.cache = cache
        # Only a strategy with a model gains from batching; rules answer inline.
        self.batcher = (
            MicroBatcher(strategy, max_batch=max_batch) if batch and strategy.batched else None
        )

    @classmethod
    def from_config(
        cls, config: ClassifierConfig, redis_url: str | None = None, batch: bool = True
    ) -> Classifier:
        strategy = build_strategy(config)
        cache = None
        if redis_url and config.cache_ttl_seconds > 0:
            cache = ClassificationCache.from_url(
                redis_url,
                ttl_seconds=config.cache_ttl_seconds,
                namespace=strategy.name,
            )
        return cls(strategy, cache, batch=batch)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def _compute(self, request: Request) -> Decision:
        try:
            if self.batcher is not None:
                quick = self.strategy.quick(request)
                return quick if quick is not None else self.batcher.classify(request)
            return self.strategy.classify(request)
        except Exception as exc:
            log.warning("classifier strategy %s failed: %s", self.strategy.name, exc)
            return fallback(exc)

    def classify(self, request: Request) -> Decision:
        try:
            if self.cache is None:
                return self._compute(request)
            decision, _ = self.cache.get_or_compute(request, self._compute)
            return decision
        except Exception as exc:
            log.warning("classifier failed: %s", exc)
            return fallback(exc)

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        results: list[Decision | None] = [None] * len(requests)
        misses = list(range(len(requests)))
        if self.cache is not None:
            misses = []
            for index, request in enumerate(requests):
                try:
                    hit = self.cache.get(request)
                except Exception as exc:
                    log.warning("classification cache unavailable: %s", exc)
                    hit = None
                if hit is None:
                    misses.append(index)
                else:
                    results[index] = hit
        if misses:
            try:
                decided = self.strategy.classify_batch([requests[i] for i in misses])
                if len(decided) != len(misses):
                    raise RuntimeError("strategy returned the wrong number of decisions")
            except Exception as exc:
                log.warning("classifier strategy %s failed: %s", self.strategy.name, exc)
                decided = [fallback(exc)] * len(misses)
            for index, decision in zip(misses, decided, strict=True):
                results[index] = decision
                if self.cache is not None:
                    try:
                        self.cache.put(requests[index], decision)
                    except Exception as exc:
                        log.warning("could not write classification cache: %s", exc)
        return [d if d is not None else fallback(RuntimeError("missing")) for d in results]
