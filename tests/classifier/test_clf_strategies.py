"""Each strategy labels clear examples of each lane (our own examples, not dev items)."""

from __future__ import annotations

import pytest
from clf_helpers import CountingStrategy, chat

from classifier.strategies import CascadeStrategy, KeywordStrategy, RulesStrategy
from classifier.strategies.base import Decision, Request, Strategy, StrategyUnavailable

CLEAR = {
    "fast-path": [
        chat("hello!"),
        chat("thanks, bye"),
        chat("what is 12 times 9"),
        chat("convert 3 miles to km"),
        chat("translate 'good night' into french"),
    ],
    "general": [
        chat("How can I get better at managing my time when I work from home?"),
        chat("Write a short, friendly email inviting my team to a picnic on Friday."),
        chat("Explain how a heat pump warms a house in the winter."),
    ],
    "high-compute": [
        chat(
            "Write a Python function that parses a CSV file and returns the average of each "
            "numeric column, with unit tests."
        ),
        chat("Why does this crash?\n```python\nitems = []\nprint(items[0])\n```"),
        chat(
            "A shop sold 120 apples on Monday and 35 more on Tuesday than on Monday. On "
            "Wednesday it sold half of Tuesday's amount. How many apples did it sell in total?"
        ),
        chat("Summarise the following report: " + "The committee met to review the budget. " * 90),
        chat("hi", tools=[{"type": "function", "function": {"name": "lookup"}}]),
        chat("tell me everything", max_tokens=4000),
    ],
}


@pytest.mark.parametrize("lane,request_", [(lane, r) for lane, rs in CLEAR.items() for r in rs])
def test_rules_labels_clear_examples(lane: str, request_: Request) -> None:
    decision = RulesStrategy().classify(request_)
    assert decision.lane == lane, decision.reason
    assert decision.strategy == "rules"
    assert decision.reason.startswith("rules: ")


def test_rules_confidence_is_high_only_for_strong_signals() -> None:
    rules = RulesStrategy()
    assert rules.classify(chat("hi", tools=[{"type": "function"}])).confidence >= 0.85
    assert rules.classify(chat("x ```y```")).confidence >= 0.85
    vague = rules.classify(chat("I wonder about the old bridge in town and its story"))
    assert vague.confidence < 0.75


def test_rules_reads_completions_prompt_and_max_completion_tokens() -> None:
    rules = RulesStrategy()
    assert rules.classify({"prompt": "hello"}).lane == "fast-path"
    big = rules.classify(
        {"messages": [{"role": "user", "content": "go"}], "max_completion_tokens": 8000}
    )
    assert big.lane == "high-compute"
    multipart = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "Write a Java class for a bank account with unit tests",
                    }
                ],
            }
        ]
    }
    assert rules.classify(multipart).lane == "high-compute"


@pytest.mark.parametrize(
    "text,lane",
    [
        ("write a python script to rename files", "high-compute"),
        ("hi there", "fast-path"),
        ("Tell me about the history of the bicycle and why it became popular", "general"),
    ],
)
def test_keyword_baseline(text: str, lane: str) -> None:
    assert KeywordStrategy().classify(chat(text)).lane == lane


class Fixed(Strategy):
    def __init__(self, name: str, lane: str, confidence: float, fail: bool = False) -> None:
        self.name = name
        self.lane = lane
        self.confidence = confidence
        self.fail = fail
        self.calls = 0

    def classify(self, request: Request) -> Decision:
        self.calls += 1
        if self.fail:
            raise StrategyUnavailable(f"{self.name} is down")
        return Decision(self.lane, self.confidence, f"{self.name} says", self.name)  # type: ignore[arg-type]


def test_cascade_uses_confident_rules_without_the_model() -> None:
    model = CountingStrategy("general")
    cascade = CascadeStrategy(Fixed("rules", "fast-path", 0.9), model, threshold=0.75)
    decision = cascade.classify(chat("hi"))
    assert decision.lane == "fast-path"
    assert decision.reason.startswith("cascade[rules]")
    assert model.calls == 0


def test_cascade_falls_through_on_low_confidence() -> None:
    model = CountingStrategy("high-compute", confidence=0.95)
    cascade = CascadeStrategy(Fixed("rules", "fast-path", 0.5), model, threshold=0.75)
    decision = cascade.classify(chat("something"))
    assert (decision.lane, decision.strategy) == ("high-compute", "cascade")
    assert decision.reason.startswith("cascade[counting]")
    assert model.calls == 1


def test_cascade_asks_llm_when_model_unsure_and_survives_llm_failure() -> None:
    unsure = CountingStrategy("general", confidence=0.4)
    llm = Fixed("llm", "high-compute", 0.8)
    cascade = CascadeStrategy(Fixed("rules", "fast-path", 0.5), unsure, llm, threshold=0.75)
    assert cascade.classify(chat("x")).lane == "high-compute"
    assert cascade.classify(chat("x")).reason.startswith("cascade[llm]")
    down = CascadeStrategy(
        Fixed("rules", "fast-path", 0.5),
        unsure,
        Fixed("llm", "high-compute", 0.8, fail=True),
        threshold=0.75,
    )
    decision = down.classify(chat("x"))
    assert decision.lane == "general"
    assert "llm fell through" in decision.reason


def test_cascade_batches_only_the_undecided_requests() -> None:
    model = CountingStrategy("general", confidence=0.9)
    cascade = CascadeStrategy(RulesStrategy(), model, threshold=0.75)
    requests = [
        chat("hello"),
        chat("I wonder about the old bridge in town and its story"),
        chat("thanks!"),
        chat("What makes some friendships last for decades?"),
    ]
    decisions = cascade.classify_batch(requests)
    assert [d.lane for d in decisions] == ["fast-path", "general", "fast-path", "general"]
    assert model.batch_sizes == [2]
