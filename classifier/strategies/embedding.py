"""Embedding strategy: two softmax heads over sentence embeddings, lexical and shape features.

* the **quick head** reads a static embedding (the mean of MiniLM's input token
  embeddings, see ``classifier.strategies.static``), hashed word n-grams and the
  request-shape features: ~0.5 ms a request;
* the **full head** adds the contextual all-MiniLM-L6-v2 sentence embedding (first
  ``max_tokens`` tokens) and runs only when the quick head is less sure than
  ``quick_threshold``.

Start-up cost. Both heads are trained from the example bank (``classifier/examples/``
plus ``ClassifierConfig.examples_file``) and cached on disk (``heads-<key>.npz`` under
``cache_dir()``, keyed by the bank, the model files and ``HEADS_VERSION``), so a warm
start only loads arrays. On a cold start the quick head is trained at once (about a
second); the full head needs a MiniLM pass over the whole bank (~0.5-1 minute on two
busy cores), so by default that runs in a low-priority background thread and the quick
head decides alone until it is done (``full_ready``/``wait_ready``). MiniLM vectors of
bank texts are cached per text, so adding examples only encodes the new ones, and a
file lock lets one process on a machine do the pass while the others wait for it.

The reason names the head, its probability and the nearest bank examples.

Import this module only when the ``embeddings`` extra is installed (``build_strategy``
imports it lazily).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import yaml

from classifier.features import FEATURE_NAMES, feature_vector, last_user_text
from classifier.strategies.base import Decision, Request, Strategy
from classifier.strategies.minilm import DEFAULT_MAX_TOKENS, MiniLMEncoder
from classifier.strategies.static import HASH_BUCKETS, SparseRows, StaticEncoder, ngram_counts
from laneway.lanes import LANES, Lane, parse_lane

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
HEADS_VERSION = "3"
"""Bump when the features or the training change: cached heads are keyed by it."""
FullHeadMode = Literal["background", "now", "off"]
QUICK_THRESHOLD = 0.7
"""The quick head decides alone at or above this probability. Chosen on the dev set
(round 3 bank, cascade): 0.6 -> 0.887, 0.7 -> 0.920, 0.8 -> 0.907, 0.9 -> 0.907; 0.7 also
sends ~40% fewer requests to MiniLM than 0.8, so this is a tuned value, not a blind one."""


@dataclass(frozen=True, slots=True)
class Example:
    lane: Lane
    request: dict[str, Any]
    text: str


def _example(lane: str, raw: Any, origin: str) -> Example:
    if isinstance(raw, str):
        request: dict[str, Any] = {"messages": [{"role": "user", "content": raw}]}
    elif isinstance(raw, dict) and "request" in raw:
        request = dict(raw["request"])
    elif isinstance(raw, dict) and "text" in raw:
        request = {k: v for k, v in raw.items() if k not in ("text", "lane", "label")}
        request["messages"] = [{"role": "user", "content": str(raw["text"])}]
    else:
        raise ValueError(f"{origin}: an example must be a string or have 'text' or 'request'")
    text = last_user_text(request)
    if not text.strip():
        raise ValueError(f"{origin}: empty example")
    return Example(parse_lane(lane), request, text)


def load_examples(path: Path) -> list[Example]:
    """Examples from a YAML bank file (``lane:`` + ``examples:``, or a mapping lane -> list)
    or a JSONL file (one ``{"text"|"request", "lane"|"label"}`` object a line)."""
    if path.suffix == ".jsonl":
        out = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                raw = json.loads(line)
                out.append(
                    _example(str(raw.get("lane", raw.get("label"))), raw, f"{path}:{number}")
                )
        return out
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    if "examples" in data:
        groups = {str(data["lane"]): data["examples"]}
    else:
        groups = {str(k): v for k, v in data.items()}
    out = []
    for lane, items in groups.items():
        if not isinstance(items, list):
            raise ValueError(f"{path}: examples of {lane} must be a list")
        out.extend(_example(lane, raw, f"{path} ({lane} #{i})") for i, raw in enumerate(items))
    return out


_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_bank(extra: Path | None = None) -> list[Example]:
    files = sorted(p for p in EXAMPLES_DIR.iterdir() if p.suffix in (".yaml", ".yml", ".jsonl"))
    if extra is not None:
        files.append(Path(extra))
    bank = [example for path in files for example in load_examples(path)]
    check_bank(bank)
    return bank


def check_bank(bank: Sequence[Example]) -> None:
    missing = set(LANES) - {e.lane for e in bank}
    if missing:
        raise ValueError(f"example bank has no example for {', '.join(sorted(missing))}")


def cache_dir() -> Path:
    root = os.environ.get("LANEWAY_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    base = Path(root) if root else Path.home() / ".cache"
    return (base / "laneway") if not os.environ.get("LANEWAY_CACHE_DIR") else base


@lru_cache(maxsize=8)
def model_digest(path: Path) -> str:
    """Hash of the packaged model files (weights, tokenizer, config)."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        with open(path / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def bank_digest(bank: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for example in bank:
        digest.update(example.lane.encode() + b"\0")
        digest.update(json.dumps(example.request, sort_keys=True, default=str).encode() + b"\0")
    return digest.hexdigest()[:24]


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:16]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (best effort: no lock if the file can't open)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - closed below
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _atomic_save(path: Path, **arrays: npt.NDArray[Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write classifier cache %s: %s", path, exc)


def _load_npz(path: Path) -> dict[str, npt.NDArray[Any]] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        log.warning("ignoring unreadable classifier cache %s: %s", path, exc)
        return None


class VectorCache:
    """MiniLM vectors of bank texts on disk, one row per text (float16), keyed by text."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> dict[bytes, FloatArray]:
        data = _load_npz(self.path) if self.path is not None else None
        if data is None or "keys" not in data or "vectors" not in data:
            return {}
        vectors = data["vectors"].astype(np.float32)
        keys = data["keys"]
        if keys.dtype != np.uint8 or keys.ndim != 2 or len(keys) != len(vectors):
            return {}
        return {k.tobytes(): vectors[i] for i, k in enumerate(keys)}

    def lookup(self, texts: Sequence[str]) -> tuple[FloatArray | None, list[int]]:
        """``(vectors or None, indices of texts not cached)``."""
        known = self.load()
        missing = [i for i, t in enumerate(texts) if _text_key(t) not in known]
        if missing:
            return None, missing
        return np.stack([known[_text_key(t)] for t in texts]).astype(np.float32), []

    def vectors(
        self,
        texts: Sequence[str],
        encoder: MiniLMEncoder,
        stop: threading.Event | None = None,
        chunk: int = 64,
    ) -> FloatArray | None:
        """Vectors of ``texts``, encoding (and caching) only those not cached yet; None
        when ``stop`` was set before all were encoded (what was encoded is still saved)."""
        if self.path is None:
            return encoder.encode(list(texts))
        with _file_lock(self.path.with_suffix(".lock")):
            known = self.load()
            # Shortest first, in chunks: little padding, and ``stop`` is seen quickly.
            missing = sorted({t for t in texts if _text_key(t) not in known}, key=len)
            if missing:
                log.info("classifier: embedding %d bank texts with MiniLM", len(missing))
            done = 0
            for start in range(0, len(missing), chunk):
                if stop is not None and stop.is_set():
                    break
                part = missing[start : start + chunk]
                for text, vector in zip(part, encoder.encode(part), strict=True):
                    known[_text_key(text)] = vector
                done += len(part)
            if done:
                keys = list(known)
                _atomic_save(
                    self.path,
                    keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16),
                    vectors=np.stack([known[k] for k in keys]).astype(np.float16),
                )
            if done < len(missing):
                return None
        return np.stack([known[_text_key(t)] for t in texts]).astype(np.float32)


def _softmax(z: FloatArray) -> FloatArray:
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

    def logits(self, dense: FloatArray, sparse: SparseRows) -> FloatArray:
        out: FloatArray = dense @ self.dense_w + sparse.matmul(self.sparse_w) + self.b
        return out

    def probs(self, dense: FloatArray, sparse: SparseRows) -> FloatArray:
        return _softmax(self.logits(dense, sparse))


def train_softmax(
    dense: FloatArray,
    sparse: SparseRows,
    y: npt.NDArray[np.int64],
    classes: int,
    l2: float = 1e-4,
    steps: int = 400,
    lr: float = 0.5,
) -> Head:
    """Multinomial logistic regression by full-batch gradient descent with momentum,
    lanes balanced so a larger bank section does not bias the head."""
    n = dense.shape[0]
    wd = np.zeros((dense.shape[1], classes), dtype=np.float32)
    ws = np.zeros((sparse.width, classes), dtype=np.float32)
    b = np.zeros(classes, dtype=np.float32)
    onehot = np.eye(classes, dtype=np.float32)[y]
    counts = onehot.sum(axis=0)
    sample_w = (n / (classes * np.maximum(counts, 1.0)))[y][:, None].astype(np.float32)
    vd: FloatArray = np.zeros_like(wd)
    vs: FloatArray = np.zeros_like(ws)
    vb: FloatArray = np.zeros_like(b)
    decay, rate, momentum = np.float32(l2), np.float32(lr), np.float32(0.9)
    for _ in range(steps):
        z = dense @ wd + b + sparse.matmul(ws)
        g = (_softmax(z) - onehot) * sample_w / n
        gd = dense.T @ g + decay * wd
        gs: FloatArray = sparse.rmatmul(g) + decay * ws
        vd = momentum * vd - rate * gd
        vs = momentum * vs - rate * gs
        vb = momentum * vb - rate * g.sum(axis=0)
        wd += vd
        ws += vs
        b += vb
    return Head(wd, ws, b)


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
        full_head: FullHeadMode = "background",
        bank: Sequence[Example] | None = None,
    ) -> None:
        """``full_head``: when the heads are not cached, build the MiniLM head in a
        ``"background"`` thread (the quick head decides alone meanwhile), ``"now"``
        (before returning), or ``"off"`` (never: quick head only).
        ``bank`` replaces the packaged example bank (tests, experiments)."""
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
                self.bank.extend(load_examples(Path(examples_file)))
            check_bank(self.bank)
        texts = [e.text for e in self.bank]
        root = cache_dir() if use_cache else None
        digest = model_digest(self.encoder.path)
        self.cache_key = hashlib.sha256(
            "|".join(
                (
                    HEADS_VERSION,
                    digest,
                    bank_digest(self.bank),
                    str(self.encoder.max_tokens),
                    str(HASH_BUCKETS),
                    ",".join(FEATURE_NAMES),
                )
            ).encode()
        ).hexdigest()[:24]
        self._heads_path = root / f"heads-{self.cache_key}.npz" if root else None
        self._vectors = VectorCache(
            root / f"minilm-{digest}-{self.encoder.max_tokens}.npz" if root else None
        )
        self.quick_calls = 0
        self.full_calls = 0
        self.full_error: BaseException | None = None
        self._full: Head | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loaded_from_cache = self._load_heads()
        if not self.loaded_from_cache:
            # Training inputs; a warm start needs none of them.
            self.bank_static = self.static.encode(texts)
            self._bank_lexical = ngram_counts(texts)
            self._bank_features = np.array(
                [feature_vector(e.request) for e in self.bank], np.float32
            )
            self._y = np.array([self.lanes.index(e.lane) for e in self.bank], dtype=np.int64)
            self.quick_head = self._train_quick()
            _, missing = self._vectors.lookup(texts)
            if full_head == "off":
                self._ready.set()
            elif full_head == "background" and missing:
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
        return train_softmax(
            self._quick_dense(self.bank_static, self._bank_features),
            self._bank_lexical,
            self._y,
            len(self.lanes),
        )

    def _load_heads(self) -> bool:
        data = _load_npz(self._heads_path) if self._heads_path is not None else None
        if data is None:
            return False
        try:
            self.quick_head = Head(data["quick_dense"], data["quick_sparse"], data["quick_b"])
            full = Head(data["full_dense"], data["full_sparse"], data["full_b"])
            bank_static = data["bank_static"].astype(np.float32)
        except KeyError:
            return False
        width = self.static.hidden + self.encoder.hidden + len(FEATURE_NAMES)
        if full.dense_w.shape[0] != width or bank_static.shape != (
            len(self.bank),
            self.static.hidden,
        ):
            return False
        self.bank_static = bank_static
        self._full = full
        self._ready.set()
        return True

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
            )
            if self._heads_path is not None:
                _atomic_save(
                    self._heads_path,
                    quick_dense=self.quick_head.dense_w,
                    quick_sparse=self.quick_head.sparse_w,
                    quick_b=self.quick_head.b,
                    full_dense=full.dense_w,
                    full_sparse=full.sparse_w,
                    full_b=full.b,
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

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        if not requests:
            return []
        texts = [last_user_text(r) or " " for r in requests]
        static = self.static.encode(texts)
        lexical = ngram_counts(texts)
        features = np.array([feature_vector(r) for r in requests], dtype=np.float32)
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
