"""Refusing request bodies over ``api.max_body_bytes``, in the API's error format."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

CODE = "body_too_large"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the bytes read pass the limit.

    An ``HTTPException`` so that a route reading the body passes it on to the
    error handlers (FastAPI turns any other exception into a vague 400).
    """

    code = CODE

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _message(max_bytes))


def _message(max_bytes: int) -> str:
    return f"the request body is over {max_bytes} bytes"


class BodyLimit:
    """413 for a body over ``max_bytes``: at once when Content-Length says so, else as
    soon as the bytes received pass the limit (chunked uploads)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})
        """Paths with a limit of their own (file uploads)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.per_path.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await error_response(413, _message(max_bytes), code=CODE)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await error_response(413, _message(max_bytes), code=CODE)(scope, receive, send)
