"""The ASGI app of the simulated OpenAI-compatible model server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from laneway.sim.config import SimConfig
from laneway.sim.disconnect import run_unless_disconnected
from laneway.sim.engine import Engine
from laneway.sim.errors import ApiError, error_response
from laneway.sim.faults import Fault, FaultInjector
from laneway.sim.generation import Answer, response_body, sse_chunks
from laneway.sim.parsing import CompletionRequest, Kind, parse_body, parse_completion_request
from laneway.sim.stats import RequestRecord, Stats
from laneway.sim.streaming import CLIENT_CLOSED, SSEResponse
from laneway.sim.textgen import choice_digest, generate_tokens, prompt_digest


def json_response(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value).encode(), status_code=status, media_type="application/json")


class SimBackend:
    """Request handlers plus the mutable state they share (faults, stats, the engine)."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.profile = config.profile
        self.models = frozenset(config.models)
        self.faults = FaultInjector(config.faults)
        self.stats = Stats()
        self.engine = Engine(config.max_concurrency, config.batch_slowdown)
        self.created = int(time.time())

    # -- plain endpoints -------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        self._raise_if_down()
        return json_response({"status": "ok"})

    async def list_models(self, request: Request) -> Response:
        self._raise_if_down()
        cards = [self._model_card(m) for m in self.config.models]
        return json_response({"object": "list", "data": cards})

    async def get_model(self, request: Request) -> Response:
        self._raise_if_down()
        model = request.path_params["model"]
        self._check_model(model)
        return json_response(self._model_card(model))

    def _model_card(self, model: str) -> dict[str, Any]:
        return {
            "id": model,
            "object": "model",
            "created": self.created,
            "owned_by": "laneway-sim",
            "max_model_len": self.profile.context_window,
            "pricing": self._pricing(),
        }

    def _pricing(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "input_per_1k_tokens": self.profile.price_per_1k_input,
            "output_per_1k_tokens": self.profile.price_per_1k_output,
        }

    # -- admin -----------------------------------------------------------------------

    async def get_faults(self, request: Request) -> Response:
        return json_response(self.faults.settings.model_dump())

    async def set_faults(self, request: Request) -> Response:
        patch = parse_body(await request.body())
        try:
            settings = self.faults.update(patch)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(part) for part in first["loc"]) or None
            raise ApiError(
                400, f"{param}: {first['msg']}", param=param, code="invalid_value"
            ) from None
        return json_response(settings.model_dump())

    async def get_stats(self, request: Request) -> Response:
        return json_response(self._stats_body())

    async def reset_stats(self, request: Request) -> Response:
        self.stats.reset()
        self.engine.reset_counters()
        return json_response(self._stats_body())

    def _stats_body(self) -> dict[str, Any]:
        profile = self.profile
        return {
            "name": self.config.name,
            "model": profile.model,
            "profile": {
                "name": profile.name,
                "ttft_ms": profile.ttft_ms,
                "tokens_per_second": profile.tokens_per_second if profile.has_delay else None,
                "context_window": profile.context_window,
                "pricing": self._pricing(),
            },
            **self.engine.snapshot(),
            **self.stats.snapshot(),
        }

    # -- completions -----------------------------------------------------------------

    async def chat_completions(self, request: Request) -> Response:
        return await self._completion(request, "chat")

    async def completions(self, request: Request) -> Response:
        return await self._completion(request, "completion")

    async def _completion(self, request: Request, kind: Kind) -> Response:
        record = self.stats.begin(kind)
        try:
            return await self._generate(request, kind, record)
        except ApiError as exc:
            self.stats.finish(record, "error", exc.status)
            return error_response(exc)
        except asyncio.CancelledError:
            self.stats.finish(record, "cancelled", CLIENT_CLOSED)
            raise
        except Exception:
            self.stats.finish(record, "error", 500)
            raise

    async def _generate(self, request: Request, kind: Kind, record: RequestRecord) -> Response:
        self._raise_if_down()
        req = parse_completion_request(kind, parse_body(await request.body()))
        digest = prompt_digest(req.prompt, self.profile.model)
        record.prompt_hash = digest.hex()
        record.stream = req.stream
        self._check_model(req.model)
        count, finish_reason = self._completion_length(req)

        fault = self.faults.draw()
        if fault is Fault.ERROR:
            raise ApiError(
                500, "Injected server error.", type="server_error", code="internal_error"
            )
        if fault is Fault.RATE_LIMIT:
            raise ApiError(
                429,
                "Rate limit reached (injected).",
                type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": "1"},
            )
        if fault is Fault.HANG:
            hang = asyncio.sleep(self.faults.settings.hang_seconds)
            if not await run_unless_disconnected(request.receive, hang):
                self.stats.finish(record, "cancelled", CLIENT_CLOSED)
                return Response(status_code=CLIENT_CLOSED)

        answer = Answer(
            kind=kind,
            model=req.model,
            fingerprint=self.config.name,
            choices=[generate_tokens(choice_digest(digest, i), count) for i in range(req.n)],
            finish_reason=finish_reason,
            prompt_tokens=req.prompt_tokens,
            include_usage=req.include_usage,
            tools=req.tools,
            sparse=self.faults.settings.sparse,
        )
        if req.stream:
            return SSEResponse(
                lambda sequence: sse_chunks(answer, self.profile, sequence),
                self.engine,
                lambda outcome, status: self.stats.finish(record, outcome, status),
                watch_disconnect=self.profile.has_delay or self.engine.slots > 0,
            )

        if self.profile.has_delay or self.engine.slots > 0:
            occupy = self._occupy(self.profile.generation_seconds(count))
            if not await run_unless_disconnected(request.receive, occupy):
                self.stats.finish(record, "cancelled", CLIENT_CLOSED)
                return Response(status_code=CLIENT_CLOSED)
        self.stats.finish(record, "completed", 200)
        return Response(response_body(answer), media_type="application/json")

    async def _occupy(self, seconds: float) -> None:
        """Hold a slot of the engine for as long as generation takes."""
        async with self.engine.sequence() as sequence:
            if self.profile.has_delay:
                await sequence.wait_for_work(seconds)

    def _completion_length(self, req: CompletionRequest) -> tuple[int, str]:
        window = self.profile.context_window
        natural = req.answer_tokens or self.profile.default_completion_tokens
        if req.max_tokens is not None:
            if req.prompt_tokens + req.max_tokens > window:
                raise self._context_error(req, req.prompt_tokens + req.max_tokens)
            return min(req.max_tokens, natural), "length" if req.max_tokens < natural else "stop"
        room = window - req.prompt_tokens
        if room < 1:
            raise self._context_error(req, req.prompt_tokens)
        return min(natural, room), "length" if room < natural else "stop"

    def _context_error(self, req: CompletionRequest, requested: int) -> ApiError:
        return ApiError(
            400,
            f"This model's maximum context length is {self.profile.context_window} tokens. "
            f"However, you requested {requested} tokens ({req.prompt_tokens} in the prompt, "
            f"{requested - req.prompt_tokens} for the completion). "
            "Please reduce the length of the prompt or completion.",
            param="messages" if req.kind == "chat" else "prompt",
            code="context_length_exceeded",
        )

    def _check_model(self, model: str) -> None:
        if model not in self.models:
            raise ApiError(
                404,
                f"The model '{model}' does not exist on this backend "
                f"(it serves {', '.join(self.config.models)}).",
                param="model",
                code="model_not_found",
            )

    def _raise_if_down(self) -> None:
        if self.faults.settings.down:
            raise ApiError(
                503,
                "The backend is down (injected).",
                type="server_error",
                code="service_unavailable",
            )


class BackendNameHeader:
    """Adds ``x-sim-backend: <name>`` to every response, including Starlette's own 404s."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.header = (b"x-sim-backend", name.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = self.header

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_header)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "method_not_allowed"
    return error_response(ApiError(exc.status_code, exc.detail, code=code))


def create_app(config: SimConfig) -> BackendNameHeader:
    backend = SimBackend(config)
    routes = [
        Route("/v1/chat/completions", backend.chat_completions, methods=["POST"]),
        Route("/v1/completions", backend.completions, methods=["POST"]),
        Route("/health", backend.health, methods=["GET"]),
        Route("/v1/models", backend.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", backend.get_model, methods=["GET"]),
        Route("/admin/faults", backend.get_faults, methods=["GET"]),
        Route("/admin/faults", backend.set_faults, methods=["POST"]),
        Route("/admin/stats", backend.get_stats, methods=["GET"]),
        Route("/admin/reset", backend.reset_stats, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.backend = backend
    return BackendNameHeader(app, config.name)
