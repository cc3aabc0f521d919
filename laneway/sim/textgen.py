"""Deterministic fake text: the answer is a pure function of (prompt text, model)."""

from __future__ import annotations

import hashlib
import random

WORDS: tuple[str, ...] = (
    "the", "lane", "queue", "model", "token", "router", "backend", "answer",
    "quick", "steady", "signal", "context", "window", "stream", "batch", "latency",
    "of", "and", "to", "in", "is", "for", "with", "on",
    "river", "harbor", "lantern", "meadow", "granite", "copper", "willow", "ember",
    "simple", "careful", "bright", "quiet", "rapid", "gentle", "narrow", "wide",
    "moves", "waits", "routes", "returns", "counts", "builds", "holds", "sends",
    "alpha", "beta", "gamma", "delta", "kappa", "sigma", "omega", "theta",
    "north", "south", "east", "west", "today", "later", "again", "onward",
)  # fmt: skip


def prompt_digest(prompt: str, model: str) -> bytes:
    return hashlib.blake2b(f"{model}\x00{prompt}".encode(), digest_size=8).digest()


def choice_digest(digest: bytes, index: int) -> bytes:
    """The digest of choice ``index`` of an ``n > 1`` request; choice 0 is the plain answer."""
    if index == 0:
        return digest
    return hashlib.blake2b(digest + index.to_bytes(2, "big"), digest_size=8).digest()


def generate_tokens(digest: bytes, count: int) -> list[str]:
    """``count`` words, each with a leading space; shorter answers are prefixes of longer ones."""
    rng = random.Random(int.from_bytes(digest, "big"))
    return [" " + word for word in rng.choices(WORDS, k=count)]


def estimate_tokens(text: str) -> int:
    """Cheap stand-in for a tokenizer: about four characters per token."""
    return (len(text) + 3) // 4
