"""The generated part of the example bank (``tools/bankgen``, a development tool outside
the installed packages, so it is loaded from its file)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from classifier.bank import load_examples
from laneway.lanes import LANES

BANKGEN = Path(__file__).resolve().parents[2] / "tools" / "bankgen" / "bankgen.py"


@pytest.fixture(scope="module")
def bankgen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bankgen", BANKGEN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generation_is_deterministic_and_checked_in(bankgen: ModuleType) -> None:
    rows = bankgen.generate()
    assert rows == bankgen.generate()
    assert rows != bankgen.generate(seed=6)
    on_disk = [
        (raw["lane"], raw["group"], raw["text"])
        for raw in map(json.loads, bankgen.OUT.read_text(encoding="utf-8").splitlines())
    ]
    assert on_disk == rows, "run `python tools/bankgen/bankgen.py` after editing tools/bankgen/"


def test_every_lane_and_generator_is_represented(bankgen: ModuleType) -> None:
    rows = bankgen.generate()
    counts = Counter(lane for lane, _, _ in rows)
    assert set(counts) == set(LANES)
    assert min(counts.values()) >= 300
    assert set(bankgen.GENERATORS) == set(LANES)
    groups = {group for _, group, _ in rows}
    assert groups == {gen.__name__ for gens in bankgen.GENERATORS.values() for gen, _ in gens}


def test_no_duplicates_or_empty_texts(bankgen: ModuleType) -> None:
    rows = bankgen.generate()
    keys = [" ".join(text.lower().split()) for _, _, text in rows]
    assert len(keys) == len(set(keys))
    assert all(text.strip() for _, _, text in rows)
    unfilled = [text for _, _, text in rows if re.search(r"\{[a-z_]+\}", text)]
    assert not unfilled, unfilled[:3]


def test_the_generated_bank_loads_with_its_template_groups(bankgen: ModuleType) -> None:
    examples = load_examples(bankgen.OUT)
    assert [(e.lane, e.group, e.text) for e in examples] == bankgen.generate()
    # ``group`` describes the example; it is not a field of the request the heads read.
    assert all("group" not in e.request for e in examples)


def test_the_tool_is_not_an_installed_package() -> None:
    import tomllib

    pyproject = tomllib.loads((BANKGEN.parents[2] / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not any(pattern.startswith("tools") for pattern in include)
    assert not (BANKGEN.parents[2] / "classifier" / "bankgen.py").exists()
