"""Static token embeddings distilled from MiniLM, and hashed word n-grams.

``StaticEncoder`` runs every wordpiece of the MiniLM vocabulary through the packaged
model once (as ``[CLS] token [SEP]``, mean-pooled, like model2vec) and keeps the
resulting table. A text's embedding is then the normalised mean of its tokens' rows:
a table lookup, ~0.1 ms instead of a transformer pass. The table is built at first
use (~10-30 s on two cores) and cached on disk, keyed by a hash of the model files.

``hashed_ngrams`` gives the lexical view: word unigrams, bigrams and the opening words,
hashed into a fixed number of buckets and L2-normalised.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from classifier.strategies.minilm import MiniLMEncoder

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
STATIC_VERSION = "1"
HASH_BUCKETS = 4096
HEAD_WORDS = 60
"""n-grams are taken from the first HEAD_WORDS words and the last 15 (where a pasted
text usually ends with the actual question)."""
TAIL_WORDS = 15
MAX_STATIC_TOKENS = 256
_WORD = re.compile(r"[a-z0-9']+")


def _model_digest(path: Path) -> str:
    digest = hashlib.sha256(STATIC_VERSION.encode())
    for name in ("model.safetensors", "tokenizer.json"):
        with open(path / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


class StaticEncoder:
    """``encode(texts) -> (n, hidden)`` unit vectors from a per-token lookup table."""

    def __init__(self, table: FloatArray, encoder: MiniLMEncoder) -> None:
        self.table = table
        self._encoder = encoder
        self.hidden = table.shape[1]

    @classmethod
    def from_encoder(cls, encoder: MiniLMEncoder, cache: Path | None) -> StaticEncoder:
        path = None
        if cache is not None:
            path = cache / f"static-{_model_digest(encoder.path)}.npy"
            if path.is_file():
                try:
                    table = np.load(path)
                    if table.shape == encoder.word.shape:
                        return cls(np.asarray(table, dtype=np.float32), encoder)
                except (OSError, ValueError):
                    log.warning("ignoring unreadable static embedding cache %s", path)
        table = distill(encoder)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, table)
                os.replace(tmp, path)
            except OSError as exc:
                log.warning("could not write static embedding cache %s: %s", path, exc)
        return cls(table, encoder)

    def encode(self, texts: list[str]) -> FloatArray:
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for row, ids in enumerate(self._encoder.wordpieces(texts, MAX_STATIC_TOKENS)):
            if ids:
                vector = self.table[ids].mean(axis=0)
                out[row] = vector / max(float(np.linalg.norm(vector)), 1e-9)
        return out


def distill(encoder: MiniLMEncoder, batch: int = 2048) -> FloatArray:
    """One MiniLM pass per vocabulary entry: ``[CLS] token [SEP]`` -> pooled vector."""
    vocab = encoder.word.shape[0]
    cls_id, sep_id = encoder.special_ids
    table = np.zeros((vocab, encoder.hidden), dtype=np.float32)
    log.info("distilling a static embedding table from MiniLM (%d tokens, once)", vocab)
    for start in range(0, vocab, batch):
        ids = [[cls_id, i, sep_id] for i in range(start, min(vocab, start + batch))]
        table[start : start + len(ids)] = encoder.forward(ids)
    return table


def hashed_ngrams(texts: list[str], buckets: int = HASH_BUCKETS) -> FloatArray:
    out = np.zeros((len(texts), buckets), dtype=np.float32)
    for row, text in enumerate(texts):
        words = _WORD.findall(text.lower())
        if not words:
            continue
        if len(words) > HEAD_WORDS:
            words = [*words[:HEAD_WORDS], "<tail>", *words[-TAIL_WORDS:]]
        grams = [*words, *(f"{a}_{b}" for a, b in itertools.pairwise(words))]
        grams.append("^" + words[0])
        if len(words) > 1:
            grams.append(f"^{words[0]}_{words[1]}")
        for gram in grams:
            out[row, zlib.crc32(gram.encode()) % buckets] += 1.0
        out[row] /= float(np.linalg.norm(out[row]))
    return out
