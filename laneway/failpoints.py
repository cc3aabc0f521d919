"""Test-only fault injection: make a real worker raise at a named step of a task.

Off unless the ``LANEWAY_FAILPOINTS`` environment variable names steps (comma
separated, e.g. ``lane.call,classify.route``), read once per process. Tests use it
to prove that an unexpected exception anywhere in a task still ends the job
visibly; production never sets it.
"""

from __future__ import annotations

import os
from functools import cache

ENV = "LANEWAY_FAILPOINTS"


class InjectedFault(RuntimeError):
    """Raised at a failpoint named in ``LANEWAY_FAILPOINTS``."""


@cache
def _armed() -> frozenset[str]:
    return frozenset(step.strip() for step in os.environ.get(ENV, "").split(",") if step.strip())


def failpoint(step: str) -> None:
    """Raise :class:`InjectedFault` when ``step`` is armed; a set lookup otherwise."""
    if step in _armed():
        raise InjectedFault(f"injected fault at {step}")
