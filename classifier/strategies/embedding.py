"""Embedding strategy: two softmax heads over sentence embeddings, lexical and shape features.

* the **quick head** reads a static embedding (the mean of per-token MiniLM vectors
  distilled once from the packaged model, see ``classifier.strategies.static``), hashed
  word n-grams and the request-shape features: ~0.5 ms a request;
* the **full head** adds the contextual all-MiniLM-L6-v2 sentence embedding (first
  ``max_tokens`` tokens) and runs only when the quick head is less sure than
  ``quick_threshold``.

Both heads are trained at load time from the example bank (``classifier/examples/``
plus ``ClassifierConfig.examples_file``). Bank embeddings are cached on disk keyed by
a hash of the bank text and the encoder settings. The reason names the head, its
probability and the nearest bank examples.

Import this module only when the ``embeddings`` extra is installed (``build_strategy``
imports it lazily).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from classifier.features import FEATURE_NAMES, feature_vector, last_user_text
from classifier.strategies.base import Decision, Request, Strategy
from classifier.strategies.minilm import DEFAULT_MAX_TOKENS, MiniLMEncoder, model_dir
from classifier.strategies.static import StaticEncoder, hashed_ngrams
from laneway.lanes import LANES, Lane, parse_lane

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
CACHE_VERSION = "2"
QUICK_THRESHOLD = 0.8
"""The quick head decides alone at or above this probability (0.8 kept the bank's
cross-validated accuracy of the full head while sending ~half the requests to MiniLM)."""


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
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def load_bank(extra: Path | None = None) -> list[Example]:
    files = sorted(p for p in EXAMPLES_DIR.iterdir() if p.suffix in (".yaml", ".yml", ".jsonl"))
    if extra is not None:
        files.append(Path(extra))
    bank = [example for path in files for example in load_examples(path)]
    missing = set(LANES) - {e.lane for e in bank}
    if missing:
        raise ValueError(f"example bank has no example for {', '.join(sorted(missing))}")
    return bank


def cache_dir() -> Path:
    root = os.environ.get("LANEWAY_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    base = Path(root) if root else Path.home() / ".cache"
    return (base / "laneway") if not os.environ.get("LANEWAY_CACHE_DIR") else base


def _softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def train_softmax(
    x: FloatArray,
    y: npt.NDArray[np.int64],
    classes: int,
    l2: float = 1e-4,
    steps: int = 400,
    lr: float = 0.5,
) -> tuple[FloatArray, FloatArray]:
    """Multinomial logistic regression by full-batch gradient descent with momentum."""
    n, d = x.shape
    w = np.zeros((d, classes), dtype=np.float32)
    b = np.zeros(classes, dtype=np.float32)
    onehot = np.eye(classes, dtype=np.float32)[y]
    # Balance the lanes so a larger bank section does not bias the head.
    counts = onehot.sum(axis=0)
    sample_w = (n / (classes * counts))[y][:, None].astype(np.float32)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for _ in range(steps):
        p = _softmax(x @ w + b)
        g = (p - onehot) * sample_w / n
        gw = x.T @ g + l2 * w
        gb = g.sum(axis=0)
        vw = 0.9 * vw - lr * gw
        vb = 0.9 * vb - lr * gb
        w += vw
        b += vb
    return w, b


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
    ) -> None:
        self.encoder = encoder or MiniLMEncoder(max_tokens=max_tokens)
        self.static = StaticEncoder.from_encoder(self.encoder, cache_dir() if use_cache else None)
        self.quick_threshold = quick_threshold
        self.bank = load_bank(examples_file)
        self.bank_vectors = self._bank_vectors(use_cache)
        texts = [e.text for e in self.bank]
        self.bank_static = self.static.encode(texts)
        self.lanes: tuple[Lane, ...] = LANES
        features = np.array([feature_vector(e.request) for e in self.bank], dtype=np.float32)
        lexical = hashed_ngrams(texts)
        y = np.array([self.lanes.index(e.lane) for e in self.bank], dtype=np.int64)
        self.quick_w, self.quick_b = train_softmax(
            np.hstack([self.bank_static, lexical, features]), y, len(self.lanes)
        )
        self.w, self.b = train_softmax(
            np.hstack([self.bank_static, self.bank_vectors, lexical, features]), y, len(self.lanes)
        )
        self.quick_calls = 0
        self.full_calls = 0

    def _bank_vectors(self, use_cache: bool) -> FloatArray:
        digest = hashlib.sha256()
        digest.update(f"{CACHE_VERSION}|{self.encoder.max_tokens}|".encode())
        digest.update(str(model_dir()).encode())
        for example in self.bank:
            digest.update(example.text.encode() + b"\0")
        path = cache_dir() / f"bank-{digest.hexdigest()[:24]}.npy"
        if use_cache and path.is_file():
            try:
                vectors = np.load(path)
                if vectors.shape == (len(self.bank), self.encoder.hidden):
                    return np.asarray(vectors, dtype=np.float32)
            except (OSError, ValueError):
                log.warning("ignoring unreadable embedding cache %s", path)
        vectors = self.encoder.encode([e.text for e in self.bank])
        if use_cache:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, vectors)
                os.replace(tmp, path)
            except OSError as exc:
                log.warning("could not write embedding cache %s: %s", path, exc)
        return vectors

    def classify(self, request: Request) -> Decision:
        return self.classify_batch([request])[0]

    def classify_batch(self, requests: Sequence[Request]) -> list[Decision]:
        if not requests:
            return []
        texts = [last_user_text(r) or " " for r in requests]
        static = self.static.encode(texts)
        lexical = hashed_ngrams(texts)
        features = np.array([feature_vector(r) for r in requests], dtype=np.float32)
        probs = _softmax(np.hstack([static, lexical, features]) @ self.quick_w + self.quick_b)
        heads = ["static"] * len(requests)
        unsure = [i for i in range(len(requests)) if probs[i].max() < self.quick_threshold]
        if unsure:
            vectors = self.encoder.encode([texts[i] for i in unsure])
            x = np.hstack([static[unsure], vectors, lexical[unsure], features[unsure]])
            probs[unsure] = _softmax(x @ self.w + self.b)
            for i in unsure:
                heads[i] = "minilm"
        self.full_calls += len(unsure)
        self.quick_calls += len(requests) - len(unsure)
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
        weights = self.w[-len(FEATURE_NAMES) :, self.lanes.index(lane)]
        order = np.argsort(-(values * weights))[:k]
        return [FEATURE_NAMES[int(i)] for i in order if values[int(i)] != 0]


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
