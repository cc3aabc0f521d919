"""laneway's kernel: settings, lanes, the Celery app, wire messages, the job store, the
supervisor and the kernel's commands. It imports nothing from ``api``, ``producer``,
``classifier`` or ``workers``: they depend on it, never the other way round (a worker
imports its task modules by name, see :mod:`laneway.celery_app`).
"""

# The public modules; listing them here does not import them.

__all__ = [
    "apikeys",
    "backpressure",
    "celery_app",
    "cli",
    "failpoints",
    "heartbeat",
    "jobs",
    "lanes",
    "net",
    "redis_server",
    "requests",
    "runtime",
    "settings",
    "sim",
    "store",
    "supervisor",
    "wire",
    "worker",
]
