"""``Strategy.quick``: confident rules answer inline, before the batcher and the model."""

from __future__ import annotations

from clf_helpers import CountingStrategy, chat

from classifier.service import Classifier
from classifier.strategies import CascadeStrategy, KeywordStrategy, RulesStrategy

AMBIGUOUS = chat(
    "My neighbour keeps parking in front of my driveway and I am not sure how to bring it "
    "up without starting a feud with them"
)


def test_cascade_quick_answers_confident_rules_only() -> None:
    cascade = CascadeStrategy(RulesStrategy(), CountingStrategy("high-compute"))
    decision = cascade.quick(chat("hello!"))
    assert decision is not None
    assert decision.lane == "fast-path" and decision.reason.startswith("cascade[rules]")
    assert decision.confidence >= cascade.threshold
    assert RulesStrategy().classify(AMBIGUOUS).confidence < cascade.threshold
    assert cascade.quick(AMBIGUOUS) is None


def test_base_strategies_have_no_quick_answer() -> None:
    assert KeywordStrategy().quick(chat("hello!")) is None
    assert CountingStrategy().quick(chat("hello!")) is None


def test_service_skips_the_model_for_quick_answers() -> None:
    model = CountingStrategy("high-compute")
    service = Classifier(CascadeStrategy(RulesStrategy(), model), batch=True)
    try:
        assert service.batcher is not None
        assert service.classify(chat("hello!")).lane == "fast-path"
        assert model.calls == 0 and service.batcher.items == 0
        decision = service.classify(AMBIGUOUS)
        assert decision.lane == "high-compute"
        assert decision.reason.startswith("cascade[counting]")
        assert model.calls == 1 and service.batcher.items == 1
    finally:
        service.close()
