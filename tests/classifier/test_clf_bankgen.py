"""The generated part of the example bank."""

from __future__ import annotations

import json
import re
from collections import Counter

from classifier import bankgen
from laneway.lanes import LANES


def test_generation_is_deterministic_and_checked_in() -> None:
    rows = bankgen.generate()
    assert rows == bankgen.generate()
    assert rows != bankgen.generate(seed=6)
    on_disk = [
        (raw["lane"], raw["text"])
        for raw in map(json.loads, bankgen.OUT.read_text(encoding="utf-8").splitlines())
    ]
    assert on_disk == rows, "run `python -m classifier.bankgen` after editing bankgen.py"


def test_every_lane_and_generator_is_represented() -> None:
    counts = Counter(lane for lane, _ in bankgen.generate())
    assert set(counts) == set(LANES)
    assert min(counts.values()) >= 300
    assert set(bankgen.GENERATORS) == set(LANES)


def test_no_duplicates_or_empty_texts() -> None:
    rows = bankgen.generate()
    keys = [" ".join(text.lower().split()) for _, text in rows]
    assert len(keys) == len(set(keys))
    assert all(text.strip() for _, text in rows)
    unfilled = [text for _, text in rows if re.search(r"\{[a-z_]+\}", text)]
    assert not unfilled, unfilled[:3]
