"""Request counters and a short log of recent requests, served at ``/admin/stats``."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Literal

Outcome = Literal["in_flight", "completed", "error", "cancelled"]
RECENT_LIMIT = 100


@dataclass(slots=True)
class RequestRecord:
    id: int
    endpoint: str
    started: float
    prompt_hash: str | None = None
    stream: bool = False
    ended: float | None = None
    status: int | None = None
    outcome: Outcome = "in_flight"


class Stats:
    def __init__(self) -> None:
        self._next_id = 0
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Clear counters and the log; ``in_flight`` keeps tracking live requests."""
        self.received = 0
        self.completed = 0
        self.errors = 0
        self.cancelled = 0
        self.recent: deque[RequestRecord] = deque(maxlen=RECENT_LIMIT)

    def begin(self, endpoint: str) -> RequestRecord:
        self._next_id += 1
        self.received += 1
        self.in_flight += 1
        record = RequestRecord(id=self._next_id, endpoint=endpoint, started=time.time())
        self.recent.append(record)
        return record

    def finish(self, record: RequestRecord, outcome: Outcome, status: int) -> None:
        if record.ended is not None:
            return  # already finished; never count a request twice
        record.ended = time.time()
        record.outcome = outcome
        record.status = status
        self.in_flight -= 1
        if outcome == "completed":
            self.completed += 1
        elif outcome == "cancelled":
            self.cancelled += 1
        else:
            self.errors += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "completed": self.completed,
            "errors": self.errors,
            "in_flight": self.in_flight,
            "cancelled": self.cancelled,
            "recent": [asdict(r) for r in self.recent],
        }
