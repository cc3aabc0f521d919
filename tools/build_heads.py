"""Train the embedding heads of the packaged example bank and ship them with the package.

    python tools/build_heads.py

Writes ``classifier/heads/heads-<key>.npz`` (the key is the bank's content hash plus the
model files' hash, see ``classifier.strategies.embedding.heads_key``) and the bank texts'
MiniLM vectors (``minilm-<model>-<tokens>.npz``, int8: a user's examples file then trains
the full head after encoding only its own texts), and removes older files there. The heads'
temperatures are fitted on held-out folds of template groups (temperature scaling: the
confidences then match how often the heads are right; no decision changes). Run it
after changing ``classifier/examples/`` or the features:
``tests/classifier/test_clf_packaged_heads.py`` fails until the shipped files match the
bank. The MiniLM vectors of the bank texts come from the usual cache (only new texts are
encoded), and the training is deterministic, so rerunning on an unchanged bank rewrites
the same arrays.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from classifier.calibration import group_folds  # noqa: E402
from classifier.strategies.embedding import (  # noqa: E402
    PACKAGED_HEADS_DIR,
    EmbeddingStrategy,
)
from classifier.training import fit_temperature  # noqa: E402
from laneway.lanes import LANES  # noqa: E402

FOLDS = 5


def held_out_temperatures(strategy: EmbeddingStrategy) -> tuple[float, float]:
    """Temperatures of the quick and full heads, fitted on the logits of ``FOLDS`` folds
    of whole template groups, each scored by heads trained without it."""
    bank = strategy.bank
    quick = np.zeros((len(bank), len(LANES)), dtype=np.float32)
    full = np.zeros_like(quick)
    for number, fold in enumerate(group_folds(bank, FOLDS), 1):
        held = set(fold)
        fold_heads = EmbeddingStrategy(
            encoder=strategy.encoder,
            bank=[e for i, e in enumerate(bank) if i not in held],
            full_head="now",
            packaged_heads=False,
        )
        quick[fold], full[fold] = fold_heads.head_logits([bank[i].request for i in fold])
        print(f"  fold {number}/{FOLDS} scored", file=sys.stderr)
    y = np.array([LANES.index(e.lane) for e in bank], dtype=np.int64)
    return fit_temperature(quick, y), fit_temperature(full, y)


def main() -> int:
    started = time.perf_counter()
    strategy = EmbeddingStrategy(full_head="now", packaged_heads=False)
    quick_t, full_t = held_out_temperatures(strategy)
    strategy.calibrate(quick_t, full_t)
    target = strategy.packaged_heads_path
    strategy.save_heads(target)
    vectors = strategy.packaged_vectors_path
    strategy.save_vectors(vectors)
    for old in [*PACKAGED_HEADS_DIR.glob("heads-*.npz"), *PACKAGED_HEADS_DIR.glob("minilm-*.npz")]:
        if old not in (target, vectors):
            old.unlink()
    size = (target.stat().st_size + vectors.stat().st_size) / 1024
    print(
        f"{target.relative_to(ROOT)}: {len(strategy.bank)} examples, {size:.0f} KiB,"
        f" {time.perf_counter() - started:.1f} s (heads {strategy.heads_source}),"
        f" temperatures quick {quick_t:.2f}, full {full_t:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
