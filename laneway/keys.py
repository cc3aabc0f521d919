"""Redis key names, in one place so that every component agrees on them."""

from __future__ import annotations

PREFIX = "laneway:"


def job(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def events(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}:events"


def final(job_id: str) -> str:
    """A stream that gets exactly one entry, when the job reaches its final state."""
    return f"{PREFIX}job:{job_id}:final"


def content(job_id: str) -> str:
    """A finished job's prompt and result, kept for its content TTL (see common.lua)."""
    return f"{PREFIX}job:{job_id}:content"


def idempotency(tenant: str, key: str) -> str:
    return f"{PREFIX}idem:{tenant}:{key}"


def tenant_jobs(tenant: str) -> str:
    return f"{PREFIX}tenant:{tenant}:jobs"


DEAD_LETTERS = f"{PREFIX}dead"
STATS = f"{PREFIX}stats"
"""Counters the Lua scripts keep for /metrics (field names: kind|labels...)."""
HISTOGRAMS = f"{PREFIX}hist"
"""Latency histograms the Lua scripts keep for /metrics (see laneway/histograms.py)."""


def usage_hour(hour: int) -> str:
    """Usage totals of the jobs that finished in the hour starting at ``hour`` (unix
    seconds; see laneway/usage.py and ``account_usage`` in common.lua)."""
    return f"{PREFIX}usage:{hour}"


CLASSIFY_DEADLINES = f"{PREFIX}classify:deadlines"
SENT = f"{PREFIX}sent"
"""Jobs whose lane task message is on its way to a worker (see ``common.lua``)."""
KOMBU_UNACKED = "unacked"
"""kombu's Redis transport keeps reserved messages here, by delivery tag."""
KOMBU_UNACKED_INDEX = "unacked_index"
"""... and when each was reserved (kombu restores those older than the visibility timeout)."""


def breaker(backend: str) -> str:
    return f"{PREFIX}breaker:{backend}"


def breaker_probe(backend: str) -> str:
    return f"{PREFIX}breaker:{backend}:probe"


def health_probe_lock(backend: str) -> str:
    return f"{PREFIX}probe:{backend}"


WORKER_HEARTBEAT = f"{PREFIX}workers"
"""Worker instance -> its role and last beat, for readiness checks."""
HEARTBEATS = f"{PREFIX}heartbeats"
"""Worker instance -> its last heartbeat by Redis's clock, for finding dead workers."""


def held(worker: str) -> str:
    """The jobs a worker instance is running (see ``common.lua``)."""
    return f"{PREFIX}held:{worker}"


CANCEL_CHANNEL = f"{PREFIX}cancel"


def job_id_of(job_key: str) -> str:
    return job_key.removeprefix(f"{PREFIX}job:")


API_KEYS = f"{PREFIX}apikeys"
"""Every stored API key ever created, by id (value: the key's SHA-256); revoking keeps it."""


def api_key(digest: str) -> str:
    """A stored API key's record, found by the SHA-256 of the key (never the key itself)."""
    return f"{PREFIX}apikey:{digest}"


def rate_bucket(key_id: str, dimension: str) -> str:
    """A key's requests or tokens per minute bucket."""
    return f"{PREFIX}rate:{key_id}:{dimension}"


def monthly_tokens(key_id: str, month: str) -> str:
    """Tokens a key used in ``month`` (``YYYY-MM``, UTC)."""
    return f"{PREFIX}quota:{key_id}:{month}"


def slots(backend: str) -> str:
    """A backend's call slots in use, fleet-wide: holder -> lease expiry (Redis's clock)."""
    return f"{PREFIX}slots:{backend}"


def file(file_id: str) -> str:
    """An uploaded or produced file's record (OpenAI's File object and where it is kept)."""
    return f"{PREFIX}file:{file_id}"


def tenant_files(tenant: str) -> str:
    """A tenant's files: id -> created_at."""
    return f"{PREFIX}tenant:{tenant}:files"


def batch(batch_id: str) -> str:
    """A batch's record: OpenAI's Batch object and the driver's progress."""
    return f"{PREFIX}batch:{batch_id}"


def batch_inflight(batch_id: str) -> str:
    """A batch's submitted, unfinished lines: job id -> '<line> <custom_id>'."""
    return f"{PREFIX}batch:{batch_id}:inflight"


def batch_parts(batch_id: str) -> str:
    """The result parts a batch's driver wrote, in order (folded into its output files)."""
    return f"{PREFIX}batch:{batch_id}:parts"


def tenant_batches(tenant: str) -> str:
    """A tenant's batches: id -> created_at."""
    return f"{PREFIX}tenant:{tenant}:batches"


def tenant_open_batches(tenant: str) -> str:
    """A tenant's batches not yet in a final state (for ``batch.max_open_batches``)."""
    return f"{PREFIX}tenant:{tenant}:open-batches"


OPEN_BATCHES = f"{PREFIX}batches:open"
"""Every batch the driver still has work on: id -> created_at."""
BATCH_STATUSES = f"{PREFIX}batches:status"
"""Every batch's status, by id (for the ``laneway_batches`` gauge)."""
BATCH_DRIVER = f"{PREFIX}batches:driver"
"""The lease of the one API process that drives batches (a token, with a TTL)."""


def rotation(lane: str) -> str:
    """A lane's weighted round-robin state, shared by its workers: backend -> current weight."""
    return f"{PREFIX}wrr:{lane}"


LATENCY_EWMA = f"{PREFIX}latency:ewma"
"""Each backend's latency EWMA in ms, fleet-wide (``<backend>``) and when it was last
updated (``<backend>|at``, Redis's clock)."""
