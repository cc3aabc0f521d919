"""build_strategy and the extra-less install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from classifier.strategies import (
    CascadeStrategy,
    KeywordStrategy,
    RulesStrategy,
    build_strategy,
    embeddings_available,
)
from laneway.settings import ClassifierConfig


def test_build_named_strategies() -> None:
    config = ClassifierConfig()
    assert isinstance(build_strategy(config, "rules"), RulesStrategy)
    assert isinstance(build_strategy(config, "keyword"), KeywordStrategy)
    assert isinstance(build_strategy(ClassifierConfig(strategy="rules")), RulesStrategy)
    with pytest.raises(ValueError, match="llm_base_url"):
        build_strategy(ClassifierConfig(strategy="llm"))
    with pytest.raises(ValueError, match="unknown"):
        build_strategy(config, "magic")


def test_auto_is_cascade_when_embeddings_are_installed() -> None:
    assert embeddings_available(), "the embeddings extra is missing (make test installs it)"
    started = time.perf_counter()
    strategy = build_strategy(ClassifierConfig())
    try:
        assert isinstance(strategy, CascadeStrategy)
        # Cold cache (see conftest): the heads shipped with the package are loaded.
        assert time.perf_counter() - started < 20
        assert strategy.classify({"messages": [{"role": "user", "content": "hi"}]}).lane == (
            "fast-path"
        )
        decision = strategy.classify(
            {
                "messages": [
                    {"role": "user", "content": "Why is the sky blue at noon but red at dusk?"}
                ]
            }
        )
        assert decision.reason.startswith("cascade[embedding] embedding[")
    finally:
        from classifier.strategies.embedding import EmbeddingStrategy

        if isinstance(strategy, CascadeStrategy) and isinstance(strategy.model, EmbeddingStrategy):
            strategy.model.close()  # stop the background MiniLM pass


def test_extra_less_install_falls_back_to_rules_with_one_warning() -> None:
    script = textwrap.dedent("""
        import logging, sys
        sys.modules["classifier.strategies.embedding"] = None   # poison: ImportError
        sys.modules["torch"] = None
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        from classifier.strategies import build_strategy
        from laneway.settings import ClassifierConfig
        strategy = build_strategy(ClassifierConfig())
        d = strategy.classify({"messages": [{"role": "user", "content": "hello there"}]})
        print("RESULT", strategy.name, d.lane)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "RESULT rules fast-path" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, done.stderr
    assert "embeddings extra is not installed" in warnings[0]
