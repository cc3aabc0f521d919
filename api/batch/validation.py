"""Checking a batch's input file, line by line, before any of it runs.

Each line must be a JSON object ``{custom_id, method, url, body}`` whose body
passes the same validation as the endpoint it names (``/v1/chat/completions``
or ``/v1/completions``, the batch's endpoint), with a model that exists, a
lane the key may use and a context some backend has. ``custom_id`` values are
unique. The file is read as a stream: memory holds one line and a digest of
each ``custom_id``, never the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.bodies import parse_strict
from api.errors import ApiError, BodyRejected, validation_message
from api.models import backend_model_name, resolve_model
from api.schemas import ChatCompletionRequest, CompletionRequest
from laneway.jobs import JobKind
from laneway.lanes import Lane
from laneway.settings import Settings
from producer import RequestRejected
from producer.admission import check_context

ENDPOINTS: dict[str, type[ChatCompletionRequest] | type[CompletionRequest]] = {
    "/v1/chat/completions": ChatCompletionRequest,
    "/v1/completions": CompletionRequest,
}
KINDS = {"/v1/chat/completions": JobKind.CHAT, "/v1/completions": JobKind.COMPLETION}
DELIVERY_FIELDS = ("stream", "stream_options")
"""A batch line's answer goes to the output file: how it would be streamed is moot."""


class LineProblem(Exception):
    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One request of a batch, ready to submit."""

    custom_id: str
    kind: JobKind
    request: dict[str, Any]
    lane: Lane | None
    prefer_model: str | None


@dataclass
class Report:
    total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0


def parse_line(
    raw: bytes,
    endpoint: str,
    settings: Settings,
    lanes: tuple[Lane, ...] | None = None,
) -> BatchLine:
    """The request on one input line; :class:`LineProblem` says what is wrong with it."""
    try:
        value = parse_strict(raw, settings.api.max_json_depth)
    except BodyRejected as exc:
        message = exc.message.replace("the body is", "the line is")
        raise LineProblem("invalid_json_line", message, exc.param) from None
    if not isinstance(value, dict):
        raise LineProblem("invalid_json_line", "the line must be a JSON object")
    custom_id = value.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise LineProblem(
            "missing_required_parameter", "custom_id must be a non-empty string", "custom_id"
        )
    if value.get("method") != "POST":
        raise LineProblem("invalid_method", "method must be POST", "method")
    url = value.get("url")
    if url not in ENDPOINTS:
        raise LineProblem(
            "invalid_url", f"url must be one of {', '.join(ENDPOINTS)}, not {url!r}", "url"
        )
    if url != endpoint:
        raise LineProblem(
            "mismatched_url", f"url {url} differs from the batch's endpoint {endpoint}", "url"
        )
    body = value.get("body")
    if not isinstance(body, dict):
        raise LineProblem("missing_required_parameter", "body must be a JSON object", "body")
    try:
        request = ENDPOINTS[url].model_validate(body)
    except ValidationError as exc:
        located = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        message, param = validation_message(RequestValidationError(located))
        raise LineProblem(
            "invalid_request", message, f"body.{param}" if param else "body"
        ) from None
    try:
        lane = resolve_model(request.model, settings)
    except ApiError as exc:
        raise LineProblem(exc.code or "invalid_request", exc.message, "body.model") from None
    if lanes is not None and lane is not None and lane not in lanes:
        raise LineProblem(
            "lane_not_allowed",
            f"this API key may not use the {lane} lane (it may use {', '.join(lanes)})",
            "body.model",
        )
    backend_request = request.backend_request()
    for name in DELIVERY_FIELDS:
        backend_request.pop(name, None)
    try:
        check_context(settings, backend_request)
    except RequestRejected as exc:
        param = f"body.{exc.param}" if exc.param else "body"
        raise LineProblem(exc.code, exc.message, param) from None
    return BatchLine(
        custom_id, KINDS[url], backend_request, lane, backend_model_name(request.model)
    )


def lines(handle: IO[bytes], offset: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """(offset after the line, physical line number from 1, line) for each non-blank
    line from ``offset`` on; the line number counts from ``offset``'s line."""
    handle.seek(offset)
    position = offset
    for number, raw in enumerate(handle, start=1):
        position += len(raw)
        if raw.strip():
            yield position, number, raw


def validate(
    handle: IO[bytes],
    endpoint: str,
    settings: Settings,
    lanes: tuple[Lane, ...] | None = None,
) -> Report:
    """Every problem of the input file (the first ``batch.max_errors`` listed)."""
    report = Report()
    seen: dict[bytes, int] = {}

    def problem(line: int | None, code: str, message: str, param: str | None = None) -> None:
        report.error_count += 1
        if len(report.errors) < settings.batch.max_errors:
            report.errors.append({"code": code, "message": message, "param": param, "line": line})

    for _, number, raw in lines(handle):
        report.total += 1
        if report.total > settings.batch.max_lines:
            problem(
                number,
                "too_many_requests",
                f"the file has more than {settings.batch.max_lines} requests (batch.max_lines)",
            )
            break
        try:
            line = parse_line(raw, endpoint, settings, lanes)
        except LineProblem as exc:
            problem(number, exc.code, exc.message, exc.param)
            continue
        digest = hashlib.sha256(line.custom_id.encode()).digest()[:16]
        if digest in seen:
            problem(
                number,
                "duplicate_custom_id",
                f"custom_id {json.dumps(line.custom_id)} is already used on line {seen[digest]}",
                "custom_id",
            )
        else:
            seen[digest] = number
    if report.total == 0:
        problem(None, "empty_file", "the input file has no requests")
    return report
