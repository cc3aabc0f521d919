"""Racing work against the client going away."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from starlette.types import Receive


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_unless_disconnected(receive: Receive, work: Coroutine[Any, Any, None]) -> bool:
    """Run ``work``; if the client disconnects first, cancel it and return False.

    Only valid once the request body has been read, because it consumes ``receive``.
    """
    work_task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        await asyncio.wait((work_task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not work_task.done():
            work_task.cancel()
            await asyncio.wait((work_task,))  # unlike awaiting the task, never raises its error
    if work_task.cancelled():
        return False
    work_task.result()  # re-raise a failure of the work itself
    return True
