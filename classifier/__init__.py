"""Request classification: which lane should serve a request. Depends on ``laneway`` only;
a classifier worker imports :mod:`classifier.tasks`, which registers ``laneway.classify``.
"""

# The public modules; listing them here does not import them.
__all__ = [
    "bank",
    "cache",
    "calibration",
    "cli",
    "disk_cache",
    "evaluate",
    "export",
    "service",
    "strategies",
    "tasks",
    "training",
]
