"""OpenAI-style error bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response


class ApiError(Exception):
    """Raised anywhere while handling a request; rendered as an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers


def error_response(error: ApiError) -> Response:
    body = {
        "error": {
            "message": error.message,
            "type": error.type,
            "param": error.param,
            "code": error.code,
        }
    }
    return Response(
        json.dumps(body).encode(),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


def invalid_type(param: str, expected: str) -> ApiError:
    return ApiError(
        400, f"Invalid type for '{param}': expected {expected}.", param=param, code="invalid_type"
    )


def missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )
