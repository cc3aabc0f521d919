"""Lane workers: running a job against a lane's backends. Depends on ``laneway`` only;
a lane worker imports :mod:`workers.tasks`, which registers ``laneway.run``.
"""

# The public modules; listing them here does not import them.
__all__ = ["backends", "breaker", "cancel", "runner", "streaming", "tasks"]
