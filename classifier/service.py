"""The classifier service: a strategy + optional shared cache + optional micro-batcher.

``Classifier.classify`` raises only :class:`ClassificationTimeout`: any other failure of
the strategy becomes ``Decision("general", 0.0, "fallback: <error>", "fallback")``, which
is never cached.

Time bound (``timeout_seconds``, set from ``classifier.timeout_seconds`` by
``from_config``): one ``classify`` call, single-flight wait included, raises
:class:`ClassificationTimeout` when the decision has not come by then. The bound is
enforced where a call can block: the wait on the micro-batcher, whose model call runs on
its own thread anyway, and the single-flight wait. A strategy run inline (no batcher:
``rules``, ``keyword``, ``llm``) costs no thread hop; rules and keywords cannot block, and
the ``llm`` strategy bounds its own HTTP call with the same setting (its timeout is a
:class:`ClassificationTimeout` too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from classifier.batcher import MicroBatcher
from classifier.cache import FALLBACK_STRATEGY, ClassificationCache
from classifier.strategies import build_strategy
from classifier.strategies.base import ClassificationTimeout, Decision, Request, Strategy
from laneway.lanes import GENERAL
from laneway.settings import ClassifierConfig

__all__ = ["ClassificationTimeout", "Classifier", "fallback"]

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
        timeout_seconds: float | None = None,
    ) -> None:
        """``timeout_seconds``: bound on one ``classify`` call (None: unbounded); see the
        module docstring for where it applies."""
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self.strategy = strategy
        self.cache = cache
        self.timeout = timeout_seconds
        # Only a strategy with a model gains from batching; rules answer inline.
        self.batcher = (
            MicroBatcher(strategy, max_batch=max_batch) if batch and strategy.batched else None
        )

    @classmethod
    def from_config(
        cls, config: ClassifierConfig, redis_url: str | None = None, batch: bool = True
    ) -> Classifier:
        """The configured classifier, each ``classify`` bounded by
        ``config.timeout_seconds`` (with ``batch=False`` a model strategy runs inline and
        only the single-flight wait and the llm call are bounded)."""
        strategy = build_strategy(config)
        cache = None
        if redis_url and config.cache_ttl_seconds > 0:
            cache = ClassificationCache.from_url(
                redis_url,
                ttl_seconds=config.cache_ttl_seconds,
                # new examples retrain the heads: their decisions are cached apart
                namespace=f"{strategy.name}:{strategy.version}"
                if strategy.version
                else strategy.name,
            )
        return cls(strategy, cache, batch=batch, timeout_seconds=config.timeout_seconds)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def _timed_out(self) -> ClassificationTimeout:
        return ClassificationTimeout(
            f"no classification within classifier.timeout_seconds={self.timeout:g}s "
            f"(strategy {self.strategy.name})"
        )

    def _compute(self, request: Request, deadline: float | None = None) -> Decision:
        try:
            if self.batcher is not None:
                quick = self.strategy.quick(request)
                if quick is not None:
                    return quick
                if deadline is None:
                    return self.batcher.classify(request)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timed_out()
                try:
                    return self.batcher.classify(request, remaining)
                except ClassificationTimeout:
                    raise self._timed_out() from None
            return self.strategy.classify(request)
        except ClassificationTimeout:
            raise
        except Exception as exc:
            log.warning("classifier strategy %s failed: %s", self.strategy.name, exc)
            return fallback(exc)

    def classify(self, request: Request) -> Decision:
        """The decision for ``request``; raises :class:`ClassificationTimeout` (never
        cached) when it does not come within ``timeout_seconds``."""
        return self.classify_cached(request)[0]

    def classify_cached(self, request: Request) -> tuple[Decision, bool]:
        """:meth:`classify`, and whether the decision came from the cache."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            if self.cache is None:
                return self._compute(request, deadline), False
            return self.cache.get_or_compute(
                request, lambda r: self._compute(r, deadline), deadline
            )
        except ClassificationTimeout:
            raise  # the caller routes the job (and logs); nothing was cached
        except Exception as exc:
            log.warning("classifier failed: %s", exc)
            return fallback(exc), False

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
