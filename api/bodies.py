"""Request bodies must be strict JSON, and not too deeply nested.

Python's json module reads ``NaN``, ``Infinity``, ``1e999`` and lone UTF-16
surrogates (``"\\ud800"``) without complaint, but a job holding them cannot be
sent on: strict JSON encoders, UTF-8 and the backends all refuse them. Deeply
nested bodies parse too, then break serialisers with depth limits later. The
routes read bodies through :class:`StrictJsonRoute`, which refuses all of these
before validation, so nothing is written for them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from api.errors import BodyRejected, field_path

DEFAULT_MAX_DEPTH = 64

_Path = tuple[Any, ...] | None
"""A value's place in the body as a linked list: (parent path, key or index)."""


def _parts(path: _Path) -> list[Any]:
    parts: list[Any] = []
    while path is not None:
        path, key = path
        parts.append(key)
    return parts[::-1]


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_strict(value: Any, max_depth: int) -> None:
    """Raise :class:`BodyRejected` for the first value strict JSON has no place for."""
    stack: list[tuple[Any, int, _Path]] = [(value, 1, None)]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                parts = _parts(path)
                raise BodyRejected(
                    f"{field_path(parts[:1]) or 'body'}: nested deeper than {max_depth} levels",
                    field_path(parts[:1]) or None,
                    "nesting_too_deep",
                )
            if isinstance(item, dict):
                for key, child in reversed(item.items()):
                    if not _encodable(key):
                        _surrogate((path, key))
                    stack.append((child, depth + 1, (path, key)))
            else:
                for index in range(len(item) - 1, -1, -1):
                    stack.append((item[index], depth + 1, (path, index)))
        elif isinstance(item, str):
            if not _encodable(item):
                _surrogate(path)
        elif isinstance(item, float) and not math.isfinite(item):
            where = field_path(_parts(path)) or "body"
            raise BodyRejected(
                f"{where}: must be a finite number (NaN, Infinity and numbers beyond a "
                "double's range are not valid JSON)",
                where,
            )


def _surrogate(path: _Path) -> None:
    where = field_path(_parts(path)) or "body"
    raise BodyRejected(
        f"{where}: contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid "
        "Unicode text",
        where,
    )


def parse_strict(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BodyRejected(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise BodyRejected(
            f"body: nested deeper than {max_depth} levels", code="nesting_too_deep"
        ) from None
    except ValueError as exc:  # not UTF-8, or an integer too long to read
        raise BodyRejected(f"the body is not valid JSON: {exc}") from None
    check_strict(value, max_depth)
    return value


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            state = getattr(self.app.state, "laneway", None)
            depth = state.settings.api.max_json_depth if state else DEFAULT_MAX_DEPTH
            self._json = parse_strict(await self.body(), depth)
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by :func:`parse_strict`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
