"""Latency and size profiles of the simulated model server."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Profile:
    """How a simulated model behaves: which name it answers to, how fast, how big."""

    name: str
    model: str
    ttft_ms: float
    tokens_per_second: float
    """``math.inf`` means tokens are produced without any delay."""
    context_window: int
    default_completion_tokens: int
    """Length of the natural answer, used when the request sets no smaller ``max_tokens``."""
    price_per_1k_input: float = 0.0
    """USD per 1,000 prompt tokens, as a hosted model of this size is priced."""
    price_per_1k_output: float = 0.0
    """USD per 1,000 completion tokens."""

    @property
    def ttft_seconds(self) -> float:
        return self.ttft_ms / 1000.0

    @property
    def seconds_per_token(self) -> float:
        return 0.0 if math.isinf(self.tokens_per_second) else 1.0 / self.tokens_per_second

    @property
    def has_delay(self) -> bool:
        """False for a backend that must never sleep (the overhead benchmark's ``zero``)."""
        return self.ttft_ms > 0 or not math.isinf(self.tokens_per_second)

    def generation_seconds(self, tokens: int) -> float:
        """Wall time from request start until the last of ``tokens`` is produced."""
        if tokens <= 0:
            return self.ttft_seconds
        return self.ttft_seconds + (tokens - 1) * self.seconds_per_token

    def with_overrides(
        self,
        *,
        ttft_ms: float | None = None,
        tokens_per_second: float | None = None,
        context_window: int | None = None,
        price_per_1k_input: float | None = None,
        price_per_1k_output: float | None = None,
    ) -> Profile:
        """Return a copy with the given knobs changed; ``tokens_per_second=0`` means no delay."""
        for price in (price_per_1k_input, price_per_1k_output):
            if price is not None and price < 0:
                raise ValueError("prices must be >= 0")
        if ttft_ms is not None and ttft_ms < 0:
            raise ValueError("ttft_ms must be >= 0")
        if tokens_per_second is not None and tokens_per_second < 0:
            raise ValueError("tokens_per_second must be >= 0")
        if context_window is not None and context_window < 1:
            raise ValueError("context_window must be >= 1")
        profile = self
        if ttft_ms is not None:
            profile = replace(profile, ttft_ms=ttft_ms)
        if tokens_per_second is not None:
            profile = replace(profile, tokens_per_second=tokens_per_second or math.inf)
        if context_window is not None:
            profile = replace(profile, context_window=context_window)
        if price_per_1k_input is not None:
            profile = replace(profile, price_per_1k_input=price_per_1k_input)
        if price_per_1k_output is not None:
            profile = replace(profile, price_per_1k_output=price_per_1k_output)
        return profile


# Prices in the range hosted models of these sizes are sold at (an ~8B model, a ~70B
# model, a frontier model): the large one costs 30-40x the small one per token.
PROFILES: dict[str, Profile] = {
    "small": Profile("small", "sim-small", 20.0, 400.0, 4096, 24, 0.0001, 0.0004),
    "medium": Profile("medium", "sim-medium", 60.0, 150.0, 16384, 48, 0.0006, 0.0024),
    "large": Profile("large", "sim-large", 150.0, 60.0, 65536, 96, 0.003, 0.015),
    "zero": Profile("zero", "sim-zero", 0.0, math.inf, 65536, 16),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown profile {name!r}; choose one of: {known}") from None
