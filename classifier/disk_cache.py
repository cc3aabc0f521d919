"""The classifier's on-disk cache: MiniLM vectors of bank texts and trained heads.

Files live under :func:`cache_dir` as ``.npz`` arrays (never pickles). Writes are atomic
(a temporary file renamed into place) and a file lock lets one process on a machine
encode the bank while the others wait for its result. A cache that cannot be read or
written is ignored with a warning: it only saves time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier.strategies.minilm import MiniLMEncoder
from classifier.training import FloatArray

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$LANEWAY_CACHE_DIR``, else ``$XDG_CACHE_HOME/laneway``, else ``~/.cache/laneway``."""
    own = os.environ.get("LANEWAY_CACHE_DIR")
    if own:
        return Path(own)
    root = os.environ.get("XDG_CACHE_HOME")
    return (Path(root) if root else Path.home() / ".cache") / "laneway"


@lru_cache(maxsize=8)
def model_digest(path: Path) -> str:
    """Hash of the packaged model files (weights, tokenizer, config)."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        with open(path / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:16]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
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


def atomic_save(path: Path, **arrays: npt.NDArray[Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write classifier cache %s: %s", path, exc)


def load_npz(path: Path) -> dict[str, npt.NDArray[Any]] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        log.warning("ignoring unreadable classifier cache %s: %s", path, exc)
        return None


class VectorCache:
    """MiniLM vectors of bank texts on disk, one row per text (float16), keyed by text.

    ``shipped`` names a read-only file of vectors that came with the package (the
    packaged bank's, int8, see :func:`save_shipped_vectors`): texts found there are
    never encoded again, so a user's examples file costs a MiniLM pass over its own
    texts only."""

    def __init__(self, path: Path | None, shipped: Path | None = None) -> None:
        self.path = path
        self.shipped = shipped

    def load(self) -> dict[bytes, FloatArray]:
        known = _read_vectors(self.shipped)
        known.update(_read_vectors(self.path))
        return known

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
        with file_lock(self.path.with_suffix(".lock")):
            local = _read_vectors(self.path)
            known = {**_read_vectors(self.shipped), **local}
            # Shortest first, in chunks: little padding, and ``stop`` is seen quickly.
            missing = sorted({t for t in texts if text_key(t) not in known}, key=len)
            if missing:
                log.info("classifier: embedding %d bank texts with MiniLM", len(missing))
            done = 0
            for start in range(0, len(missing), chunk):
                if stop is not None and stop.is_set():
                    break
                part = missing[start : start + chunk]
                for text, vector in zip(part, encoder.encode(part), strict=True):
                    known[text_key(text)] = local[text_key(text)] = vector
                done += len(part)
            if done:
                keys = list(local)
                atomic_save(
                    self.path,
                    keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16),
                    vectors=np.stack([local[k] for k in keys]).astype(np.float16),
                )
            if done < len(missing):
                return None
        return np.stack([known[text_key(t)] for t in texts]).astype(np.float32)


def _read_vectors(path: Path | None) -> dict[bytes, FloatArray]:
    """Vectors of a cache file (float16) or a shipped file (int8 + a scale per row)."""
    data = load_npz(path) if path is not None else None
    if data is None or "keys" not in data or "vectors" not in data:
        return {}
    vectors = data["vectors"].astype(np.float32)
    if "scales" in data:
        vectors *= data["scales"].astype(np.float32)[:, None]
    keys = data["keys"]
    if keys.dtype != np.uint8 or keys.ndim != 2 or len(keys) != len(vectors):
        return {}
    return {k.tobytes(): vectors[i] for i, k in enumerate(keys)}


def save_shipped_vectors(path: Path, texts: Sequence[str], vectors: FloatArray) -> None:
    """Write ``texts``' vectors for shipping: int8 with one scale per row (a quarter of
    float32; the heads never notice the rounding), compressed, sorted by key so an
    unchanged bank rewrites the same bytes."""
    rows = sorted({text_key(t): v for t, v in zip(texts, vectors, strict=True)}.items())
    matrix = np.stack([v for _, v in rows]).astype(np.float32)
    scales = np.maximum(np.abs(matrix).max(axis=1), 1e-12) / 127.0
    write_npz(
        path,
        keys=np.frombuffer(b"".join(k for k, _ in rows), dtype=np.uint8).reshape(-1, 16),
        vectors=np.round(matrix / scales[:, None]).astype(np.int8),
        scales=scales.astype(np.float32),
    )


def write_npz(path: Path, **arrays: npt.NDArray[Any]) -> None:
    """Write a file to ship (compressed, replaced atomically). Unlike :func:`atomic_save`
    for the cache, a failure raises: a tool that cannot write its output must say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
