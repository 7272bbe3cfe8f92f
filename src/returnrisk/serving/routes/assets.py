"""The API's documentation pages and the static files of the pages the service shows, all local.

``/docs`` (Swagger UI) and ``/redoc`` load their scripts from ``/assets/…`` — the builds shipped by
the ``fastapi-offline`` package (Swagger UI: Apache-2.0; Redoc: MIT) — never from a CDN, so they
work offline and under the Content-Security-Policy (no inline script: Swagger UI starts from
``swagger-init.js``). ``/assets/dashboard.css`` is the dashboard's style sheet.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from returnrisk.serving.errors import ApiError

__all__ = ["router", "ASSETS"]

router = APIRouter(include_in_schema=False)

_VENDOR = Path(fastapi_offline.__file__).with_name("static")
_OWN = Path(__file__).parents[1] / "static"
_DASHBOARD = Path(__file__).parents[2] / "dashboard" / "static"
#: Every file served under ``/assets/`` (a fixed list: nothing else on disk is reachable).
ASSETS = {
    "swagger-ui-bundle.js": _VENDOR / "swagger-ui-bundle.js",
    "swagger-ui.css": _VENDOR / "swagger-ui.css",
    "redoc.standalone.js": _VENDOR / "redoc.standalone.js",
    "favicon.png": _VENDOR / "favicon.png",
    "swagger-init.js": _OWN / "swagger-init.js",
    "dashboard.css": _DASHBOARD / "dashboard.css",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}


def _page(title: str, head: str, body: str, openapi_url: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{escape(title)}</title>"
        f"<link rel=\"icon\" href=\"/assets/favicon.png\">{head}</head>"
        f"<body data-openapi=\"{escape(openapi_url)}\">{body}</body></html>")


@router.get("/docs")
async def swagger_page(request: Request) -> HTMLResponse:
    app = request.app
    return _page(f"{app.title} — API", "<link rel=\"stylesheet\" href=\"/assets/swagger-ui.css\">",
                 "<div id=\"swagger-ui\"></div><script src=\"/assets/swagger-ui-bundle.js\"></script>"
                 "<script src=\"/assets/swagger-init.js\"></script>", app.openapi_url)


@router.get("/redoc")
async def redoc_page(request: Request) -> HTMLResponse:
    app = request.app
    return _page(f"{app.title} — API reference", "",
                 f"<redoc spec-url=\"{escape(app.openapi_url)}\"></redoc>"
                 "<script src=\"/assets/redoc.standalone.js\"></script>", app.openapi_url)


@router.get("/assets/{name}")
async def asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, "not_found", f"no such asset: {name!r}")
    return FileResponse(path, media_type=_TYPES.get(path.suffix), headers={"cache-control": "public, max-age=3600"})
