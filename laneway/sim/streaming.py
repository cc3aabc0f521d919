"""An SSE response that notices a departed client and reports how each stream ended."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from laneway.sim.disconnect import run_unless_disconnected
from laneway.sim.engine import Engine, Sequence
from laneway.sim.stats import Outcome

CLIENT_CLOSED = 499  # nginx's convention; never reaches the client, only the stats


class SSEResponse(Response):
    """Server-sent events that stop when the client leaves and always report how they ended.

    The events are made once the request has a slot of the engine (``make_events``
    receives its sequence), so a request waiting in the queue has sent nothing yet.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        make_events: Callable[[Sequence], AsyncGenerator[bytes, None]],
        engine: Engine,
        on_finish: Callable[[Outcome, int], None],
        watch_disconnect: bool,
    ) -> None:
        self.make_events = make_events
        self.engine = engine
        self.events: AsyncGenerator[bytes, None] | None = None
        self.on_finish = on_finish
        self.watch_disconnect = watch_disconnect
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outcome: Outcome = "cancelled"
        try:
            if self.watch_disconnect:
                finished = await run_unless_disconnected(receive, self._pump(send))
            else:  # nothing ever waits, so the answer is complete before a disconnect could matter
                await self._pump(send)
                finished = True
            if finished:
                outcome = "completed"
        finally:
            # Close it now rather than whenever the loop's async-generator finalizer gets to it.
            if self.events is not None:
                await self.events.aclose()
            self.on_finish(outcome, self.status_code if outcome == "completed" else CLIENT_CLOSED)

    async def _pump(self, send: Send) -> None:
        async with self.engine.sequence() as sequence:
            self.events = events = self.make_events(sequence)
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async for chunk in events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
