"""Embedding strategy: two softmax heads over sentence embeddings, lexical and shape features.

* the **quick head** reads a static embedding (the mean of MiniLM's input token
  embeddings, see ``classifier.strategies.static``), hashed word n-grams and the
  request-shape features: ~0.5 ms a request;
* the **full head** adds the contextual all-MiniLM-L6-v2 sentence embedding (first
  ``max_tokens`` tokens) and runs only when the quick head is less sure than
  ``quick_threshold``.

Start-up cost. Both heads are trained from the example bank (``classifier/examples/``
plus ``ClassifierConfig.examples_file``, see ``classifier.bank``) with
``classifier.training`` and cached on disk (``heads-<key>.npz`` under ``cache_dir()``, see
``classifier.disk_cache``, keyed by the bank's content, the model files and
``HEADS_VERSION``), so a warm
start only loads arrays. The heads of the packaged bank also ship with the package
(``classifier/heads/heads-<key>.npz``, written by ``tools/build_heads.py``; a test checks
that its key is the packaged bank's), so a fresh machine without a user examples file
trains nothing and encodes nothing either. Otherwise (a user examples file, a changed
bank) the quick head is trained at once (a few seconds); the full head needs a MiniLM
pass over the whole bank (~0.5-1 minute on two busy cores), so by default that runs in a
low-priority background thread and the quick head decides alone until it is done
(``full_ready``/``wait_ready``). MiniLM vectors of
bank texts are cached per text, so adding examples only encodes the new ones, and a
file lock lets one process on a machine do the pass while the others wait for it.

The reason names the head, its probability and the nearest bank examples.

Import this module only when the ``embeddings`` extra is installed (``build_strategy``
imports it lazily).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from classifier.bank import Example, bank_digest, check_bank, load_bank, load_user_examples
from classifier.disk_cache import (
    VectorCache,
    atomic_save,
    cache_dir,
    load_npz,
    model_digest,
    save_shipped_vectors,
    write_npz,
)
from classifier.features import FEATURE_NAMES, feature_vector, last_user_text
from classifier.strategies import FullHead
from classifier.strategies.base import Decision, Request, Strategy
from classifier.strategies.minilm import DEFAULT_MAX_TOKENS, MiniLMEncoder
from classifier.strategies.static import HASH_BUCKETS, SparseRows, StaticEncoder, ngram_counts
from classifier.training import FloatArray, Head, train_softmax
from laneway.lanes import LANES, Lane

log = logging.getLogger(__name__)

HEADS_VERSION = "4"
"""Bump when the features or the training change: cached heads are keyed by it."""

PACKAGED_HEADS_DIR = Path(__file__).resolve().parent.parent / "heads"
"""Heads of the packaged bank, shipped with the package (``tools/build_heads.py``)."""

HeadsSource = Literal["packaged", "cache", "trained"]

QUICK_THRESHOLD = 0.7
"""The quick head decides alone at or above this probability. Chosen on the dev set
(round 3 bank, cascade): 0.6 -> 0.887, 0.7 -> 0.920, 0.8 -> 0.907, 0.9 -> 0.907; 0.7 also
sends ~40% fewer requests to MiniLM than 0.8, so this is a tuned value, not a blind one."""


class EmbeddingStrategy(Strategy):
    name = "embedding"
    batched = True

    def __init__(
        self,
        examples_file: Path | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        encoder: MiniLMEncoder | None = None,
        use_cache: bool = True,
        quick_threshold: float = QUICK_THRESHOLD,
        full_head: FullHead = "background",
        bank: Sequence[Example] | None = None,
        packaged_heads: bool = True,
    ) -> None:
        """``full_head``: when the heads are not cached, build the MiniLM head in a
        ``"background"`` thread (the quick head decides alone meanwhile), ``"now"``
        (before returning), or ``"off"`` (never: quick head only).
        ``bank`` replaces the packaged example bank (tests, experiments).
        ``packaged_heads``: use the heads shipped in ``PACKAGED_HEADS_DIR`` when they were
        trained on this very bank (False: train or load from the cache, as tools do)."""
        if full_head not in ("background", "now", "off"):
            raise ValueError(f"full_head must be background, now or off, not {full_head!r}")
        started = time.perf_counter()
        self.encoder = encoder or MiniLMEncoder(max_tokens=max_tokens)
        self.static = StaticEncoder.from_encoder(self.encoder)
        self.quick_threshold = quick_threshold
        self.lanes: tuple[Lane, ...] = LANES
        if bank is None:
            self.bank = load_bank(examples_file)
        else:
            self.bank = list(bank)
            if examples_file is not None:
                self.bank.extend(load_user_examples(Path(examples_file)))
            check_bank(self.bank)
        texts = [e.text for e in self.bank]
        root = cache_dir() if use_cache else None
        digest = model_digest(self.encoder.path)
        self.cache_key = heads_key(self.bank, digest, self.encoder.max_tokens)
        self.version = self.cache_key
        self._heads_path = root / f"heads-{self.cache_key}.npz" if root else None
        vectors_name = f"minilm-{digest}-{self.encoder.max_tokens}.npz"
        self.packaged_vectors_path = PACKAGED_HEADS_DIR / vectors_name
        self._vectors = VectorCache(
            root / vectors_name if root else None,
            shipped=self.packaged_vectors_path if packaged_heads else None,
        )
        self.quick_calls = 0
        self.full_calls = 0
        self.full_error: BaseException | None = None
        self._full: Head | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.heads_source: HeadsSource = "trained"
        self._temperatures = (1.0, 1.0)
        # The shipped file first: same key, same training, plus its fitted temperatures.
        if packaged_heads and self._load_heads(self.packaged_heads_path):
            self.heads_source = "packaged"
        else:
            # Fitted for the shipped heads; heads trained here or cached reuse them, so a
            # cache written before a refit keeps no stale ones (tools pass False: none).
            if packaged_heads:
                self._temperatures = shipped_temperatures()
            if self._heads_path is not None and self._load_heads(
                self._heads_path, self._temperatures
            ):
                self.heads_source = "cache"
        self.loaded_from_cache = self.heads_source != "trained"
        if not self.loaded_from_cache:
            # Training inputs; a warm start needs none of them.
            self.bank_static = self.static.encode(texts)
            self._bank_lexical = ngram_counts(texts)
            self._bank_features = np.array(
                [feature_vector(e.request) for e in self.bank], np.float32
            )
            self._y = np.array([self.lanes.index(e.lane) for e in self.bank], dtype=np.int64)
            self._weights = np.array([e.weight for e in self.bank], dtype=np.float32)
            self.quick_head = self._train_quick()
            if full_head == "off":
                self._ready.set()
            elif full_head == "background":
                self._thread = threading.Thread(
                    target=self._build_full, name="classifier-full-head", daemon=True
                )
                self._thread.start()
            else:
                self._build_full()
        self.build_seconds = time.perf_counter() - started

    # -- heads -------------------------------------------------------------------------

    def _quick_dense(self, static: FloatArray, features: FloatArray) -> FloatArray:
        return np.hstack([static, features])

    def _full_dense(
        self, static: FloatArray, vectors: FloatArray, features: FloatArray
    ) -> FloatArray:
        return np.hstack([static, vectors, features])

    def _train_quick(self) -> Head:
        head = train_softmax(
            self._quick_dense(self.bank_static, self._bank_features),
            self._bank_lexical,
            self._y,
            len(self.lanes),
            weights=self._weights,
        )
        return replace(head, temperature=self._temperatures[0])

    @property
    def packaged_heads_path(self) -> Path:
        return PACKAGED_HEADS_DIR / f"heads-{self.cache_key}.npz"

    def _load_heads(self, path: Path, temperatures: tuple[float, float] | None = None) -> bool:
        """Load heads saved by ``_build_full`` or ``save_heads`` (with ``temperatures``
        instead of the file's own, when given); ``bank_static`` (only for the reason's
        nearest examples) is recomputed when the file leaves it out."""
        data = load_npz(path)
        if data is None:
            return False
        try:
            own = (_temperature(data, "quick"), _temperature(data, "full"))
            quick_t, full_t = temperatures or own
            quick = Head(data["quick_dense"], data["quick_sparse"], data["quick_b"], quick_t)
            full = Head(data["full_dense"], data["full_sparse"], data["full_b"], full_t)
        except KeyError:
            return False
        width = self.static.hidden + self.encoder.hidden + len(FEATURE_NAMES)
        if full.dense_w.shape[0] != width or quick.dense_w.shape[0] != width - self.encoder.hidden:
            return False
        if "bank_static" in data:
            bank_static = data["bank_static"].astype(np.float32)
        else:
            bank_static = self.static.encode([e.text for e in self.bank])
        if bank_static.shape != (len(self.bank), self.static.hidden):
            return False
        self.quick_head = quick
        self.bank_static = bank_static
        self._full = full
        self._ready.set()
        return True

    def save_heads(self, path: Path) -> None:
        """Write both heads (no bank vectors: small enough to ship) to ``path``,
        compressed. The full head must be built (``full_head="now"``)."""
        full = self._full
        if full is None:
            raise RuntimeError("the full head is not built")
        write_npz(path, **_head_arrays(self.quick_head, full))

    def calibrate(self, quick: float, full: float) -> None:
        """Set the heads' temperatures (``tools/build_heads.py`` fits them on held-out
        folds with :func:`classifier.training.fit_temperature`)."""
        self.quick_head = replace(self.quick_head, temperature=quick)
        if self._full is not None:
            self._full = replace(self._full, temperature=full)

    def head_logits(self, requests: Sequence[Request]) -> tuple[FloatArray, FloatArray]:
        """Both heads' raw logits (before any temperature) for ``requests``."""
        full = self._full
        if full is None:
            raise RuntimeError("the full head is not built")
        texts, static, lexical, features = self._inputs(requests)
        vectors = self.encoder.encode(texts)
        return (
            self.quick_head.logits(self._quick_dense(static, features), lexical),
            full.logits(self._full_dense(static, vectors, features), lexical),
        )

    def save_vectors(self, path: Path) -> None:
        """Write the bank texts' MiniLM vectors for shipping beside the heads."""
        texts = [e.text for e in self.bank]
        vectors = self._vectors.vectors(texts, self.encoder)
        if vectors is None:
            raise RuntimeError("the bank's vectors could not be computed")
        save_shipped_vectors(path, texts, vectors)

    def _build_full(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(OSError, AttributeError):
                # A nice background thread leaves the cores to the requests being served.
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            vectors = self._vectors.vectors([e.text for e in self.bank], self.encoder, self._stop)
            if vectors is None:
                return  # closed
            full = train_softmax(
                self._full_dense(self.bank_static, vectors, self._bank_features),
                self._bank_lexical,
                self._y,
                len(self.lanes),
                weights=self._weights,
            )
            full = replace(full, temperature=self._temperatures[1])
            if self._heads_path is not None:
                atomic_save(
                    self._heads_path,
                    **_head_arrays(self.quick_head, full),
                    bank_static=self.bank_static.astype(np.float16),
                )
            self._full = full
        except Exception as exc:  # the quick head keeps answering
            self.full_error = exc
            log.exception("classifier: could not build the MiniLM head; quick head only")
        finally:
            self._ready.set()

    def close(self, timeout: float = 10.0) -> None:
        """Stop a background build (the MiniLM vectors encoded so far stay cached)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def full_ready(self) -> bool:
        return self._full is not None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the full head is built; True when it is available."""
        self._ready.wait(timeout)
        return self._full is not None

    # -- classification ----------------------------------------------------------------

    def classify(self, request: Request) -> Decision:
        return self.classify_batch([request])[0]

    def _inputs(
        self, requests: Sequence[Request]
    ) -> tuple[list[str], FloatArray, SparseRows, FloatArray]:
        """What both heads read of ``requests``: texts, static vectors, n-grams, shape."""
        texts = [last_user_text(r) or " " for r in requests]
        features = np.array([feature_vector(r) for r in requests], dtype=np.float32)
        return texts, self.static.encode(texts), ngram_counts(texts), features

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        if not requests:
            return []
        texts, static, lexical, features = self._inputs(requests)
        probs = self.quick_head.probs(self._quick_dense(static, features), lexical)
        heads = ["static"] * len(requests)
        full = self._full
        unsure = [i for i in range(len(requests)) if probs[i].max() < self.quick_threshold]
        if full is not None and unsure:
            vectors = self.encoder.encode([texts[i] for i in unsure])
            sub = SparseRows(*_select(lexical, unsure), lexical.width)
            x = self._full_dense(static[unsure], vectors, features[unsure])
            probs[unsure] = full.probs(x, sub)
            for i in unsure:
                heads[i] = "minilm"
            self.full_calls += len(unsure)
        elif unsure:
            for i in unsure:
                heads[i] = "static, minilm warming up"
        self.quick_calls += len(requests) - (len(unsure) if full is not None else 0)
        similar = static @ self.bank_static.T
        decisions = []
        for row in range(len(requests)):
            best = int(probs[row].argmax())
            nearest = [int(i) for i in np.argpartition(-similar[row], 2)[:2]]
            nearest.sort(key=lambda i: -similar[row, i])
            near = "; ".join(
                f"{self.bank[i].lane} {similar[row, i]:.2f} {_short(self.bank[i].text)!r}"
                for i in nearest
            )
            decisions.append(
                Decision(
                    self.lanes[best],
                    round(float(probs[row, best]), 3),
                    f"embedding[{heads[row]}]: p={probs[row, best]:.2f}; nearest: {near}",
                    self.name,
                )
            )
        return decisions

    def top_features(self, request: Request, k: int = 3) -> list[str]:
        """Shape features that pushed hardest toward the decided lane (for debugging)."""
        values = np.array(feature_vector(request), dtype=np.float32)
        lane = self.classify(request).lane
        head = self._full or self.quick_head
        weights = head.dense_w[-len(FEATURE_NAMES) :, self.lanes.index(lane)]
        order = np.argsort(-(values * weights))[:k]
        return [FEATURE_NAMES[int(i)] for i in order if values[int(i)] != 0]


def _head_arrays(quick: Head, full: Head) -> dict[str, npt.NDArray[np.float32]]:
    return {
        "quick_dense": quick.dense_w,
        "quick_sparse": quick.sparse_w,
        "quick_b": quick.b,
        "quick_t": np.array(quick.temperature, dtype=np.float32),
        "full_dense": full.dense_w,
        "full_sparse": full.sparse_w,
        "full_b": full.b,
        "full_t": np.array(full.temperature, dtype=np.float32),
    }


def _temperature(data: dict[str, npt.NDArray[Any]], head: str) -> float:
    value = data.get(f"{head}_t")
    return float(value) if value is not None else 1.0


def shipped_temperatures() -> tuple[float, float]:
    """The (quick, full) temperatures fitted for the shipped heads: heads trained at
    start (a user examples file) reuse them, as they are fitted on the same bank plus a
    few examples. (1, 1) when nothing is shipped."""
    for path in sorted(PACKAGED_HEADS_DIR.glob("heads-*.npz")):
        data = load_npz(path)
        if data is not None:
            return _temperature(data, "quick"), _temperature(data, "full")
    return 1.0, 1.0


def heads_key(bank: Sequence[Example], model: str, max_tokens: int) -> str:
    """What trained heads are keyed by: the bank's content, the model files' digest
    (``model``), and everything else that shapes the heads' inputs."""
    return hashlib.sha256(
        "|".join(
            (
                HEADS_VERSION,
                model,
                bank_digest(bank),
                str(max_tokens),
                str(HASH_BUCKETS),
                ",".join(FEATURE_NAMES),
            )
        ).encode()
    ).hexdigest()[:24]


def _select(
    matrix: SparseRows, rows: Sequence[int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
    indptr = [0]
    parts = []
    for row in rows:
        start, end = int(matrix.indptr[row]), int(matrix.indptr[row + 1])
        parts.append(np.arange(start, end))
        indptr.append(indptr[-1] + end - start)
    take = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return np.array(indptr, dtype=np.int64), matrix.indices[take], matrix.values[take]


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
