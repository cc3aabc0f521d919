"""A small server-sent-events reader for tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx


@dataclass
class Event:
    id: str | None
    event: str | None
    data: str


def read_events(response: httpx.Response) -> Iterator[Event]:
    event_id = name = None
    data: list[str] = []
    for line in response.iter_lines():
        if not line:
            if data:
                yield Event(event_id, name, "\n".join(data))
            event_id = name = None
            data = []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "id":
                event_id = value
            elif field == "event":
                name = value
            elif field == "data":
                data.append(value)
