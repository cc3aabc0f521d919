"""Train the embedding heads of the packaged example bank and ship them with the package.

    python tools/build_heads.py

Writes ``classifier/heads/heads-<key>.npz`` (the key is the bank's content hash plus the
model files' hash, see ``classifier.strategies.embedding.heads_key``) and the bank texts'
MiniLM vectors (``minilm-<model>-<tokens>.npz``, int8: a user's examples file then trains
the full head after encoding only its own texts), and removes older files there. Run it
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

from classifier.strategies.embedding import (  # noqa: E402
    PACKAGED_HEADS_DIR,
    EmbeddingStrategy,
)


def main() -> int:
    started = time.perf_counter()
    strategy = EmbeddingStrategy(full_head="now", packaged_heads=False)
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
        f" {time.perf_counter() - started:.1f} s (heads {strategy.heads_source})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
