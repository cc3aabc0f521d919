"""Held-out evaluation on labelled examples, and how far confidences can be trusted.

* :func:`group_folds` splits examples so every ``group`` (the template or file an example
  was written from) lands in exactly one fold: a fold's heads never saw a sibling of the
  examples they are scored on, which is what new traffic looks like.
* :func:`held_out_decisions` decides every example with a strategy trained without its
  fold.
* :func:`reliability` bins those decisions by confidence and compares each bin's mean
  confidence with its observed accuracy (and the expected calibration error, ECE: the
  bins' gaps weighted by their size).
* :func:`holdout_split` is the split ``laneway classify train`` reports on: a share of
  each lane's examples, held out.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from classifier.bank import Example, check_bank
from classifier.evaluate import Item
from classifier.strategies.base import Decision, Strategy

DEFAULT_FOLDS = 5
DEFAULT_BINS = 10


@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    n: int
    mean_confidence: float
    accuracy: float

    @property
    def gap(self) -> float:
        """Positive: over-confident (says more than it gets right)."""
        return self.mean_confidence - self.accuracy


@dataclass(frozen=True, slots=True)
class Reliability:
    bins: list[Bin]
    n: int
    accuracy: float
    ece: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "ece": self.ece,
            "bins": [{**asdict(b), "gap": b.gap} for b in self.bins],
        }


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = DEFAULT_BINS
) -> Reliability:
    """Equal-width confidence bins over [0, 1] (1.0 falls in the last); empty bins are
    left out."""
    if len(confidences) != len(correct):
        raise ValueError("one correctness flag per confidence")
    members: dict[int, list[int]] = defaultdict(list)
    for index, confidence in enumerate(confidences):
        members[min(int(max(confidence, 0.0) * bins), bins - 1)].append(index)
    out = []
    n = len(confidences)
    ece = 0.0
    for slot in sorted(members):
        chosen = members[slot]
        mean = sum(confidences[i] for i in chosen) / len(chosen)
        accuracy = sum(1 for i in chosen if correct[i]) / len(chosen)
        ece += len(chosen) / n * abs(mean - accuracy)
        out.append(Bin(slot / bins, (slot + 1) / bins, len(chosen), mean, accuracy))
    return Reliability(out, n, sum(correct) / n if n else 0.0, ece)


def group_folds(examples: Sequence[Example], folds: int = DEFAULT_FOLDS) -> list[list[int]]:
    """Example indices per fold; all examples of a group in one fold. Largest groups are
    placed first, each in the fold with fewest examples so far (deterministic)."""
    if folds < 2:
        raise ValueError("held-out evaluation needs at least 2 folds")
    groups: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        groups[example.group].append(index)
    if len(groups) < folds:
        raise ValueError(f"{len(groups)} groups cannot fill {folds} folds")
    out: list[list[int]] = [[] for _ in range(folds)]
    for name in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        smallest = min(range(folds), key=lambda f: (len(out[f]), f))
        out[smallest].extend(groups[name])
    return [sorted(fold) for fold in out]


def held_out_decisions(
    examples: Sequence[Example],
    build: Callable[[list[Example]], Strategy],
    folds: int = DEFAULT_FOLDS,
    progress: Callable[[int, int], None] | None = None,
) -> list[Decision]:
    """Every example decided by ``build(examples outside its fold)``."""
    decisions: list[Decision | None] = [None] * len(examples)
    splits = group_folds(examples, folds)
    for number, fold in enumerate(splits, 1):
        held = set(fold)
        train = [e for i, e in enumerate(examples) if i not in held]
        check_bank(train)
        strategy = build(train)
        try:
            answers = strategy.classify_batch([examples[i].request for i in fold])
        finally:
            close = getattr(strategy, "close", None)
            if callable(close):
                close()
        for index, decision in zip(fold, answers, strict=True):
            decisions[index] = decision
        if progress is not None:
            progress(number, len(splits))
    return [d for d in decisions if d is not None]


def holdout_split(
    examples: Sequence[Example], share: float = 0.25, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """``(train, held out)``: ``share`` of each lane's examples held out (at least one of a
    lane with two or more), chosen with a fixed seed."""
    if not 0 < share < 1:
        raise ValueError("the held-out share must be between 0 and 1")
    by_lane: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_lane[example.lane].append(index)
    rng = random.Random(seed)
    held: set[int] = set()
    for lane in sorted(by_lane):
        indices = by_lane[lane]
        if len(indices) < 2:
            continue
        count = max(1, round(len(indices) * share))
        held.update(rng.sample(indices, count))
    train = [e for i, e in enumerate(examples) if i not in held]
    return train, [e for i, e in enumerate(examples) if i in held]


def as_items(examples: Sequence[Example]) -> list[Item]:
    """Examples as evaluation items; the group is the item's source family."""
    return [
        Item(id=f"{e.group}#{i}", request=e.request, label=e.lane, source_category=e.group)
        for i, e in enumerate(examples)
    ]
