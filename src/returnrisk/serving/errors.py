"""JSON errors with stable codes: ``{"detail": ..., "code": ...}``."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "install_error_handlers", "error_body"]

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as ``status`` with a stable ``code`` and a ``detail`` that says what to do."""

    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra, self.headers = status, code, detail, extra, headers


def error_body(code: str, detail: str, **extra) -> dict:
    return {"detail": detail, "code": code, **extra}


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(error_body(exc.code, exc.detail, **exc.extra), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            first = next(e for e in errors if e.get("type") == "json_invalid")
            return JSONResponse(error_body("malformed_json", f"the request body is not valid JSON: "
                                           f"{first.get('ctx', {}).get('error', first.get('msg'))}"), status_code=400)
        fields = []
        for e in errors:
            fields.append({"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid")})
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return JSONResponse(error_body("invalid_request", f"invalid request — {summary}", errors=fields),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
                 413: "payload_too_large", 400: "bad_request"}
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        return JSONResponse(error_body(codes.get(exc.status_code, "http_error"), detail),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "unexpected error: the incident is logged"),
                            status_code=500)
