"""One error format for every endpoint: OpenAI's ``{"error": {...}}``.

The OpenAI SDK maps status codes onto its exception classes and reads
``error.message``; the native jobs API uses the same body so that clients
handle one shape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from laneway.store import IdempotencyConflict, QueueFull
from producer import RequestRejected
from producer.submit import InvalidSubmission, submitted_job

log = logging.getLogger(__name__)

# As OpenAI answers: a missing key and an unknown model are invalid requests too.
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
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


class BodyRejected(StarletteHTTPException):
    """A request body that is not strict JSON (see :mod:`api.bodies`).

    An ``HTTPException`` so that FastAPI's body reading passes it on as it is
    (it turns any other exception into a vague 400).
    """

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_json") -> None:
        super().__init__(400, message)
        self.message = message
        self.param = param
        self.code = code


class FieldError(ValueError):
    """A model-level validation error that still names the field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def field_path(parts: Iterable[str | int]) -> str:
    """A field's path as OpenAI writes it: ``messages[0].content``."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _param(item: Mapping[str, Any]) -> str:
    original = (item.get("ctx") or {}).get("error")
    if isinstance(original, FieldError):
        return original.field
    loc = tuple(item.get("loc", ()))
    if loc[:1] == ("header",):
        return str(loc[-1]).title()  # Idempotency-Key, Last-Event-Id
    return field_path(p for p in loc[1:] if isinstance(p, int | str))


# pydantic's wording where it speaks of Python rather than JSON.
_MESSAGES = {
    "missing": "is required",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "json_invalid": "is not valid JSON",
}


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    first_param: str | None = None
    for item in exc.errors():
        path = _param(item)
        first_param = first_param or (path or None)
        message = _MESSAGES.get(str(item.get("type")), str(item.get("msg", "")))
        if tuple(item.get("loc", ())) == ("body",) and isinstance(item.get("input"), bytes):
            message = "must be a JSON object, sent as Content-Type: application/json"
        problems.append(f"{path or 'body'}: {message.removeprefix('Value error, ')}")
    return "; ".join(problems) or "invalid request", first_param


def error_response(
    status_code: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    error_type: str | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status_code, message, param, code, error_type),
        status_code=status_code,
        headers=headers,
    )


def _validation_status(request: Request, native_status: int) -> int:
    # OpenAI-compatible routes answer 400 like OpenAI; the native API says 422.
    path = request.url.path
    openai = path in OPENAI_PATHS or path.startswith(("/v1/files", "/v1/batches"))
    return 400 if openai else native_status


class CatchAll:
    """Every unexpected error becomes a 500 in the API's error format, logged once.

    Outermost middleware: it sees what the exception handlers did not handle. An
    error after the response started can only end that response early.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        token = submitted_job.set(None)
        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            job_id = submitted_job.get() or (scope.get("path_params") or {}).get("job_id")
            log.exception(
                "unexpected error serving %s %s%s",
                scope.get("method"),
                scope.get("path"),
                f" (job {job_id})" if job_id else "",
            )
            if started:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            message = "internal error; the server logged it"
            if job_id:
                message += f" (job {job_id})"
            await error_response(500, message, code="internal_error")(scope, receive, send)
        finally:
            submitted_job.reset(token)


def install(app: FastAPI, *, validation_status: int = 422) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status_code, exc.message, exc.param, exc.code, exc.headers, exc.error_type
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(exc)
        status = _validation_status(request, validation_status)
        return error_response(status, message, param, "invalid_value")

    @app.exception_handler(BodyRejected)
    async def _not_strict_json(request: Request, exc: BodyRejected) -> JSONResponse:
        status = _validation_status(request, validation_status)
        return error_response(status, exc.message, exc.param, exc.code)

    @app.exception_handler(InvalidSubmission)
    async def _invalid_submission(request: Request, exc: InvalidSubmission) -> JSONResponse:
        status = _validation_status(request, validation_status)
        return error_response(status, str(exc), exc.param, "invalid_value")

    @app.exception_handler(IdempotencyConflict)
    async def _key_reused(_: Request, exc: IdempotencyConflict) -> JSONResponse:
        return error_response(
            409,
            f"{exc}: this request differs from that job's; use a new key for a new request",
            "Idempotency-Key",
            "idempotency_key_reused",
        )

    @app.exception_handler(QueueFull)
    async def _queue_full(_: Request, exc: QueueFull) -> JSONResponse:
        return error_response(
            429, f"{exc}; try again shortly", code="queue_full", headers={"Retry-After": "1"}
        )

    @app.exception_handler(RequestRejected)
    async def _rejected(_: Request, exc: RequestRejected) -> JSONResponse:
        return error_response(400, exc.message, exc.param, exc.code)

    @app.exception_handler(RedisError)
    async def _store_down(_: Request, exc: RedisError) -> JSONResponse:
        # Nothing was accepted if this happened on submit; the client may retry.
        log.warning("Redis error while serving a request: %r", exc)
        return error_response(
            503,
            f"the job store is unavailable: {type(exc).__name__}",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            exc.status_code, str(exc.detail), code=getattr(exc, "code", None), headers=exc.headers
        )


OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/completions"})
