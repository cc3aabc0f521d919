"""The classifier's trained heads: linear softmax layers over dense and sparse features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from classifier.strategies.static import SparseRows

FloatArray = npt.NDArray[np.float32]


def softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class Head:
    """A linear softmax head over ``[dense | sparse n-grams]`` features."""

    dense_w: FloatArray
    sparse_w: FloatArray
    b: FloatArray
    temperature: float = 1.0
    """Logits are divided by it before the softmax (see :func:`fit_temperature`)."""

    def logits(self, dense: FloatArray, sparse: SparseRows) -> FloatArray:
        out: FloatArray = dense @ self.dense_w + sparse.matmul(self.sparse_w) + self.b
        return out

    def probs(self, dense: FloatArray, sparse: SparseRows) -> FloatArray:
        return softmax(self.logits(dense, sparse) / np.float32(self.temperature))


def train_softmax(
    dense: FloatArray,
    sparse: SparseRows,
    y: npt.NDArray[np.int64],
    classes: int,
    l2: float = 1e-4,
    steps: int = 400,
    lr: float = 0.5,
    weights: FloatArray | None = None,
) -> Head:
    """Multinomial logistic regression by full-batch gradient descent with momentum,
    lanes balanced so a larger bank section does not bias the head. ``weights`` (one per
    row, default 1) make some examples count more, within that balance."""
    n = dense.shape[0]
    weight = np.ones(n, dtype=np.float32) if weights is None else weights.astype(np.float32)
    wd = np.zeros((dense.shape[1], classes), dtype=np.float32)
    ws = np.zeros((sparse.width, classes), dtype=np.float32)
    b = np.zeros(classes, dtype=np.float32)
    onehot = np.eye(classes, dtype=np.float32)[y]
    counts = (onehot * weight[:, None]).sum(axis=0)
    total = np.float32(weight.sum())
    balance = total / (classes * np.maximum(counts, np.float32(1e-6)))
    sample_w = (balance[y] * weight * (n / total))[:, None].astype(np.float32)
    vd: FloatArray = np.zeros_like(wd)
    vs: FloatArray = np.zeros_like(ws)
    vb: FloatArray = np.zeros_like(b)
    decay, rate, momentum = np.float32(l2), np.float32(lr), np.float32(0.9)
    for _ in range(steps):
        z = dense @ wd + b + sparse.matmul(ws)
        g = (softmax(z) - onehot) * sample_w / n
        gd = dense.T @ g + decay * wd
        gs: FloatArray = sparse.rmatmul(g) + decay * ws
        vd = momentum * vd - rate * gd
        vs = momentum * vs - rate * gs
        vb = momentum * vb - rate * g.sum(axis=0)
        wd += vd
        ws += vs
        b += vb
    return Head(wd, ws, b)


TEMPERATURES = np.round(np.arange(0.3, 3.0001, 0.05), 2)


def fit_temperature(logits: FloatArray, y: npt.NDArray[np.int64]) -> float:
    """Temperature scaling (Guo et al., 2017): the divisor of ``logits`` that minimises
    the negative log-likelihood of the true classes ``y``. Fitted on held-out logits, it
    makes a head's probabilities match how often it is right without changing any
    decision (the argmax stays)."""
    if len(y) == 0:
        return 1.0
    rows = np.arange(len(y))
    best, best_nll = 1.0, float("inf")
    for t in TEMPERATURES:
        p = softmax((logits / np.float32(t)).astype(np.float32))[rows, y]
        nll = float(-np.log(np.maximum(p, 1e-12)).mean())
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best
