"""Classification strategies behind one interface, chosen in configuration."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from classifier.strategies.base import Decision, Request, Strategy, StrategyUnavailable
from classifier.strategies.cascade import CascadeStrategy
from classifier.strategies.keyword import KeywordStrategy
from classifier.strategies.rules import RulesStrategy
from laneway.settings import ClassifierConfig

if TYPE_CHECKING:
    from classifier.bank import Example

__all__ = [
    "CascadeStrategy",
    "Decision",
    "KeywordStrategy",
    "Request",
    "RulesStrategy",
    "Strategy",
    "StrategyUnavailable",
    "build_strategy",
    "embeddings_available",
]

log = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'laneway[embeddings]'"

CASCADE_LLM_SHARE = 0.75
"""Share of ``classifier.timeout_seconds`` the cascade's llm stage may take: the whole
classification is bounded by ``timeout_seconds``, so an llm stage given all of it could
never fall through to the embedding's answer in time."""


def embeddings_available() -> bool:
    """True when the embedding strategy's dependencies import."""
    try:
        import classifier.strategies.embedding  # noqa: F401
        from classifier.strategies.minilm import model_dir

        model_dir()
    except ImportError:
        return False
    return True


FullHead = Literal["background", "now", "off"]


def _embedding(
    config: ClassifierConfig, bank: Sequence[Example] | None, full_head: FullHead
) -> Strategy:
    from classifier.strategies.embedding import EmbeddingStrategy

    if bank is not None:
        return EmbeddingStrategy(bank=bank, full_head=full_head)
    return EmbeddingStrategy(examples_file=config.examples_file, full_head=full_head)


def _llm(config: ClassifierConfig, share: float = 1.0) -> Strategy | None:
    if not (config.llm_base_url and config.llm_model):
        return None
    from classifier.strategies.llm import LLMStrategy

    return LLMStrategy(
        config.llm_base_url,
        config.llm_model,
        config.llm_api_key_env,
        config.timeout_seconds * share,
    )


def build_strategy(
    config: ClassifierConfig,
    name: str | None = None,
    bank: Sequence[Example] | None = None,
    full_head: FullHead = "background",
) -> Strategy:
    """The strategy named in ``config`` (or ``name``); ``auto`` picks the best one installed:
    ``cascade`` when the embeddings extra is installed, else ``rules`` (with one warning).
    ``bank`` replaces the example bank (packaged + ``config.examples_file``) the embedding
    heads are trained on; ``full_head`` is the embedding strategy's (``"now"``: build the
    MiniLM head before returning, as evaluations want)."""
    name = name or config.strategy
    if name == "keyword":
        return KeywordStrategy()
    if name == "rules":
        return RulesStrategy()
    if name == "embedding":
        return _embedding(config, bank, full_head)
    if name == "llm":
        llm = _llm(config)
        if llm is None:
            raise ValueError("strategy 'llm' needs classifier.llm_base_url and llm_model")
        return llm
    if name == "cascade":
        return CascadeStrategy(
            RulesStrategy(),
            _embedding(config, bank, full_head),
            _llm(config, CASCADE_LLM_SHARE),
            config.confidence_threshold,
        )
    if name == "auto":
        if embeddings_available():
            return build_strategy(config, "cascade", bank, full_head)
        log.warning(
            "classifier: the embeddings extra is not installed (%s); using the rules strategy",
            EXTRA_HINT,
        )
        return RulesStrategy()
    raise ValueError(f"unknown classifier strategy {name!r}")
