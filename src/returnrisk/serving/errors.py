"""JSON errors with stable codes: ``{"detail": ..., "code": ...}``.

Every expected failure is a :class:`~returnrisk.errors.ReturnRiskError`; one handler answers
them all, with the status of their class (:func:`status_of`: bad input 422, not found 404,
conflict 409, unavailable 503, unauthenticated 401, any other 500) and their ``code`` and ``details``. An
:class:`ApiError` is the HTTP layer's own (keys, limits, a size the product is not sold in) and
names its status. Validation errors of FastAPI, unknown paths and unexpected exceptions have
their handlers too; an unexpected exception is logged and answered 500 without its text.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from returnrisk.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    ReturnRiskError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = ["ApiError", "STATUS_OF", "error_body", "install_error_handlers", "product_not_found", "status_of"]

log = logging.getLogger(__name__)

#: The API status of each kind of expected failure (the first class that matches; else 500).
STATUS_OF: tuple[tuple[type[ReturnRiskError], int], ...] = (
    (InputError, 422),
    (UnauthenticatedError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (UnavailableError, 503),
)


class ApiError(ReturnRiskError):
    """An error answered as ``status`` with a stable ``code`` and a ``detail`` that says what to do."""

    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None, **extra):
        super().__init__(detail, code=code, **extra)
        self.status, self.detail, self.headers = status, detail, headers


def status_of(exc: ReturnRiskError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return next((status for kind, status in STATUS_OF if isinstance(exc, kind)), 500)


def error_body(code: str, detail: str, **extra) -> dict:
    return {"detail": detail, "code": code, **extra}


def product_not_found(product_id: str) -> ApiError:
    return ApiError(404, "product_not_found",
                    f"product {product_id!r} is not in the model's catalogue; to score a new product, "
                    "POST /v1/score with its attributes in 'product' (category, brand, price, …)")


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReturnRiskError)
    async def _expected(request: Request, exc: ReturnRiskError):
        status, text = status_of(exc), str(exc)
        if status >= 500:  # the service's trouble, not the caller's: worth a line in the log
            log.log(logging.WARNING if status == 503 else logging.ERROR, "%s %s: %s (%s)", request.method,
                    request.url.path, text.splitlines()[0] if text else "", exc.code)
        return JSONResponse(error_body(exc.code, text, **getattr(exc, "details", {})), status_code=status,
                            headers=getattr(exc, "headers", None))

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
