"""One error format for every endpoint: OpenAI's ``{"error": {...}}``.

The OpenAI SDK maps status codes onto its exception classes and reads
``error.message``; the native jobs API uses the same body so that clients
handle one shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from laneway.store import QueueFull
from producer import RequestRejected

log = logging.getLogger(__name__)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout_error",
}


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers
        self.error_type = error_type
        """OpenAI's ``type``; by default derived from the status code."""


def error_body(
    status_code: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    error_type: str | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": error_type
            or _TYPES.get(
                status_code, "api_error" if status_code >= 500 else "invalid_request_error"
            ),
            "param": param,
            "code": code,
        }
    }


class FieldError(ValueError):
    """A model-level validation error that still names the field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _field_path(item: Mapping[str, Any]) -> str:
    original = (item.get("ctx") or {}).get("error")
    if isinstance(original, FieldError):
        return original.field
    loc = tuple(item.get("loc", ()))
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path", "header"))


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    first_param: str | None = None
    for item in exc.errors():
        path = _field_path(item)
        first_param = first_param or (path or None)
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        problems.append(f"{path or 'body'}: {message}")
    return "; ".join(problems) or "invalid request", first_param


def install(app: FastAPI, *, validation_status: int = 422) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, exc.message, exc.param, exc.code, exc.error_type),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(exc)
        # OpenAI-compatible routes answer 400 like OpenAI; the native API says 422.
        status = 400 if request.url.path in OPENAI_PATHS else validation_status
        return JSONResponse(error_body(status, message, param, "invalid_value"), status_code=status)

    @app.exception_handler(QueueFull)
    async def _queue_full(_: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse(
            error_body(429, f"{exc}; try again shortly", code="queue_full"),
            status_code=429,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestRejected)
    async def _rejected(_: Request, exc: RequestRejected) -> JSONResponse:
        return JSONResponse(error_body(400, exc.message, exc.param, exc.code), status_code=400)

    @app.exception_handler(RedisError)
    async def _store_down(_: Request, exc: RedisError) -> JSONResponse:
        # Nothing was accepted if this happened on submit; the client may retry.
        log.warning("Redis error while serving a request: %r", exc)
        return JSONResponse(
            error_body(503, f"the job store is unavailable: {type(exc).__name__}"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/completions"})
