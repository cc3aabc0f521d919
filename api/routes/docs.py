"""The OpenAPI schema and its two viewers, behind ``api.open_docs`` (see
:func:`api.deps.docs_guard`): they describe every route, so outside loopback they
need a key unless the setting opens them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from api.deps import docs_guard

router = APIRouter(include_in_schema=False, dependencies=[Depends(docs_guard)])
OPENAPI = "/openapi.json"


def _schema_url(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + OPENAPI


@router.get(OPENAPI)
async def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_schema_url(request),
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=_schema_url(request), title=f"{request.app.title} - ReDoc")
