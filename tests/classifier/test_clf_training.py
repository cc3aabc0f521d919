"""Temperature scaling of the heads (``classifier.training.fit_temperature``)."""

from __future__ import annotations

import numpy as np

from classifier.strategies.static import ngram_counts
from classifier.training import Head, fit_temperature, softmax


def _sampled(scale: float, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose true temperature is ``scale``: labels drawn from softmax(z), logits
    reported as ``scale * z``."""
    rng = np.random.default_rng(7)
    z = rng.normal(0, 1.5, size=(n, 3)).astype(np.float32)
    p = softmax(z)
    y = np.array([rng.choice(3, p=row / row.sum()) for row in p], dtype=np.int64)
    return (z * np.float32(scale)).astype(np.float32), y


def test_fit_temperature_recovers_the_scale_of_over_and_under_confident_logits() -> None:
    over, y = _sampled(2.0)
    assert abs(fit_temperature(over, y) - 2.0) <= 0.2
    under, y = _sampled(0.5)
    assert abs(fit_temperature(under, y) - 0.5) <= 0.1
    calibrated, y = _sampled(1.0)
    assert abs(fit_temperature(calibrated, y) - 1.0) <= 0.1


def test_a_temperature_changes_the_confidence_but_never_the_decision() -> None:
    rng = np.random.default_rng(1)
    dense = rng.normal(size=(50, 4)).astype(np.float32)
    sparse = ngram_counts(["hello there"] * 50)
    head = Head(
        rng.normal(size=(4, 3)).astype(np.float32),
        np.zeros((sparse.width, 3), dtype=np.float32),
        np.zeros(3, dtype=np.float32),
    )
    sharp = Head(head.dense_w, head.sparse_w, head.b, temperature=0.5)
    plain, sharpened = head.probs(dense, sparse), sharp.probs(dense, sparse)
    assert (plain.argmax(axis=1) == sharpened.argmax(axis=1)).all()
    assert (sharpened.max(axis=1) >= plain.max(axis=1) - 1e-6).all()
    assert sharpened.max() > plain.max()
