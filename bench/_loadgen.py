"""A lean HTTP/1.1 load generator, so that the client steals little CPU from the system
under test on a 2-core machine (httpx's async client costs ~3 ms of CPU per request).

Keep-alive connections, one request in flight per connection, Content-Length bodies
only (which is what laneway's JSON endpoints send).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    writer.write(head + body)
    header = await reader.readuntil(b"\r\n\r\n")
    status = int(header[9:12])
    length = 0
    for line in header.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def post_head(host: str, path: str, body: bytes) -> bytes:
    """The head of an HTTP/1.1 POST of a JSON ``body`` (kept-alive connection)."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()


async def run_load(
    url: str,
    path: str,
    make_body: Callable[[int], dict[str, object]],
    total: int,
    connections: int,
) -> tuple[float, int]:
    """POST ``total`` requests over ``connections`` connections; return (requests/s, failures)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counter = iter(range(total))
    failures = 0

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                body = json.dumps(make_body(i)).encode()
                head = post_head(host, path, body)
                status, _ = await _request(reader, writer, head, body)
                if status != 200:
                    failures += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return total / (time.perf_counter() - started), failures
