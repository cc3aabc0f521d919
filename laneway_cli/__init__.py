"""The ``laneway`` console script: the kernel's commands plus the upper packages' ones.

The composition root of the command line, and the one package allowed to import every
other: the kernel (:mod:`laneway.cli`) imports nothing above it.
"""

from __future__ import annotations

from classifier.cli import app as classify_app
from laneway.cli import app, main

app.add_typer(
    classify_app,
    name="classify",
    help="Classify a request, evaluate a strategy, or teach it your labelled requests.",
)

__all__ = ["app", "main"]
