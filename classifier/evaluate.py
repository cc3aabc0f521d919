"""Evaluation of a strategy on a labelled JSONL file (accuracy, macro-F1, latency)."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifier.strategies.base import Decision, Request
from laneway.lanes import LANES, parse_lane


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    request: dict[str, Any]
    label: str
    source_category: str = ""

    @property
    def family(self) -> str:
        return self.source_category.split("/", 1)[0] if self.source_category else "(none)"


@dataclass
class Report:
    n: int
    accuracy: float
    macro_f1: float
    per_lane: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    per_family: dict[str, tuple[float, int]]
    latency_ms: dict[str, float]
    errors: list[tuple[Item, Decision]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    """One per item, in the items' order."""

    @property
    def worst_family(self) -> tuple[str, float]:
        if not self.per_family:
            return ("(none)", 0.0)
        name = min(self.per_family, key=lambda k: self.per_family[k][0])
        return name, self.per_family[name][0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_lane": self.per_lane,
            "confusion": self.confusion,
            "per_family": {k: {"accuracy": a, "n": n} for k, (a, n) in self.per_family.items()},
            "latency_ms": self.latency_ms,
        }


def load_items(path: str | Path) -> list[Item]:
    items = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            label = parse_lane(str(raw["label"]))
            items.append(
                Item(
                    id=str(raw.get("id", number)),
                    request=dict(raw["request"]),
                    label=label,
                    source_category=str(raw.get("source_category", "")),
                )
            )
    return items


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def score(
    items: Sequence[Item], decisions: Sequence[Decision], latencies: Sequence[float] = ()
) -> Report:
    confusion: dict[str, dict[str, int]] = {gold: dict.fromkeys(LANES, 0) for gold in LANES}
    families: dict[str, list[int]] = defaultdict(list)
    errors = []
    for item, decision in zip(items, decisions, strict=True):
        confusion[item.label][decision.lane] += 1
        correct = item.label == decision.lane
        families[item.family].append(int(correct))
        if not correct:
            errors.append((item, decision))
    per_lane: dict[str, dict[str, float]] = {}
    for lane in LANES:
        tp = confusion[lane][lane]
        predicted = sum(confusion[g][lane] for g in LANES)
        actual = sum(confusion[lane].values())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_lane[lane] = {"precision": precision, "recall": recall, "f1": f1, "n": actual}
    n = len(items)
    present = [lane for lane in LANES if per_lane[lane]["n"]]
    ms = [x * 1000 for x in latencies]
    return Report(
        n=n,
        accuracy=sum(confusion[g][g] for g in LANES) / n if n else 0.0,
        macro_f1=sum(per_lane[lane]["f1"] for lane in present) / len(present) if present else 0.0,
        per_lane=per_lane,
        confusion=confusion,
        per_family={k: (sum(v) / len(v), len(v)) for k, v in sorted(families.items())},
        latency_ms={
            "p50": percentile(ms, 50),
            "p90": percentile(ms, 90),
            "p99": percentile(ms, 99),
            "mean": sum(ms) / len(ms) if ms else 0.0,
        },
        errors=errors,
        decisions=list(decisions),
        correct=[item.label == d.lane for item, d in zip(items, decisions, strict=True)],
    )


def evaluate(
    classify: Callable[[Request], Decision], items: Sequence[Item], warmup: int = 3
) -> Report:
    """Classify every item one at a time (as a cache miss) and score the result."""
    for item in items[:warmup]:
        classify(item.request)
    decisions, latencies = [], []
    for item in items:
        start = time.perf_counter()
        decisions.append(classify(item.request))
        latencies.append(time.perf_counter() - start)
    return score(items, decisions, latencies)


def lane_counts(decisions: Sequence[Decision]) -> Counter[str]:
    return Counter(d.lane for d in decisions)
