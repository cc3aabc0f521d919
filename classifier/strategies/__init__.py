"""Classification strategies behind one interface, chosen in configuration."""

from __future__ import annotations

from classifier.strategies.base import Decision, Request, Strategy
from classifier.strategies.rules import RulesStrategy
from laneway.settings import ClassifierConfig

__all__ = ["Decision", "Request", "RulesStrategy", "Strategy", "build_strategy"]


def build_strategy(config: ClassifierConfig) -> Strategy:
    """The strategy named in ``config`` (``auto`` picks the best one installed)."""
    return RulesStrategy()
