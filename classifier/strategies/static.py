"""Static token embeddings and hashed word n-grams: the quick head's cheap views of a text.

``StaticEncoder`` embeds a text as the normalised mean of per-wordpiece rows of a table.
The default table is MiniLM's own input token-embedding matrix
(``embeddings.word_embeddings``), which comes with the model files and so costs nothing
to build. An earlier version distilled a table by running every vocabulary entry through
the transformer (``[CLS] token [SEP]``, model2vec style): that took 1-2 minutes on a
fresh two-core machine and scored no better on the dev set (cascade 0.880 either way,
quick head alone 0.853 distilled vs 0.867 input embeddings), so it was dropped.

``ngram_counts`` gives the lexical view: word unigrams, bigrams and the opening words,
hashed into ``HASH_BUCKETS`` buckets and L2-normalised, as a sparse matrix (a handful of
non-zeros per text), which keeps training the heads cheap; ``hashed_ngrams`` is the
dense form.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from classifier.strategies.minilm import MiniLMEncoder

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
HASH_BUCKETS = 4096
HEAD_WORDS = 60
"""n-grams are taken from the first HEAD_WORDS words and the last 15 (where a pasted
text usually ends with the actual question)."""
TAIL_WORDS = 15
MAX_STATIC_TOKENS = 256
_WORD = re.compile(r"[a-z0-9']+")


class StaticEncoder:
    """``encode(texts) -> (n, hidden)`` unit vectors from a per-wordpiece lookup table."""

    def __init__(self, table: FloatArray, encoder: MiniLMEncoder) -> None:
        if table.ndim != 2 or table.shape[0] != encoder.word.shape[0]:
            raise ValueError(f"static table shape {table.shape} does not fit the vocabulary")
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self._encoder = encoder
        self.hidden = int(table.shape[1])

    @classmethod
    def from_encoder(cls, encoder: MiniLMEncoder) -> StaticEncoder:
        """The model's input token embeddings as the table (no computation)."""
        return cls(encoder.word, encoder)

    def encode(self, texts: Sequence[str]) -> FloatArray:
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for row, ids in enumerate(self._encoder.wordpieces(list(texts), MAX_STATIC_TOKENS)):
            if ids:
                vector = self.table[ids].mean(axis=0)
                out[row] = vector / max(float(np.linalg.norm(vector)), 1e-9)
        return out


@dataclass(frozen=True, slots=True)
class SparseRows:
    """A CSR-style (rows x ``width``) matrix: just enough for a linear head."""

    indptr: IntArray
    indices: IntArray
    values: FloatArray
    width: int

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def row_ids(self) -> IntArray:
        ids: IntArray = np.repeat(np.arange(self.rows, dtype=np.int64), np.diff(self.indptr))
        return ids

    def matmul(self, w: FloatArray) -> FloatArray:
        """``self @ w`` for a dense (width, k) ``w``."""
        rows = self.row_ids()
        out = np.empty((self.rows, w.shape[1]), dtype=np.float32)
        for k in range(w.shape[1]):
            out[:, k] = np.bincount(
                rows, weights=w[self.indices, k] * self.values, minlength=self.rows
            )
        return out

    def rmatmul(self, g: FloatArray) -> FloatArray:
        """``self.T @ g`` for a dense (rows, k) ``g``."""
        rows = self.row_ids()
        out = np.empty((self.width, g.shape[1]), dtype=np.float32)
        for k in range(g.shape[1]):
            out[:, k] = np.bincount(
                self.indices, weights=self.values * g[rows, k], minlength=self.width
            )
        return out

    def dense(self) -> FloatArray:
        out = np.zeros((self.rows, self.width), dtype=np.float32)
        out[self.row_ids(), self.indices] = self.values
        return out


def _grams(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    if not words:
        return []
    if len(words) > HEAD_WORDS:
        words = [*words[:HEAD_WORDS], "<tail>", *words[-TAIL_WORDS:]]
    grams = [*words, *(f"{a}_{b}" for a, b in itertools.pairwise(words))]
    grams.append("^" + words[0])
    if len(words) > 1:
        grams.append(f"^{words[0]}_{words[1]}")
    return grams


def ngram_counts(texts: Sequence[str], buckets: int = HASH_BUCKETS) -> SparseRows:
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for text in texts:
        counts: dict[int, float] = {}
        for gram in _grams(text):
            bucket = zlib.crc32(gram.encode()) % buckets
            counts[bucket] = counts.get(bucket, 0.0) + 1.0
        norm = float(np.sqrt(sum(v * v for v in counts.values()))) or 1.0
        for bucket in sorted(counts):
            indices.append(bucket)
            values.append(counts[bucket] / norm)
        indptr.append(len(indices))
    return SparseRows(
        np.array(indptr, dtype=np.int64),
        np.array(indices, dtype=np.int64),
        np.array(values, dtype=np.float32),
        buckets,
    )


def hashed_ngrams(texts: Sequence[str], buckets: int = HASH_BUCKETS) -> FloatArray:
    return ngram_counts(texts, buckets).dense()
