"""The OpenAPI document: explicit operation ids, bearer auth, a description on every parameter.

* operation ids are the route functions' names (``product_risk``, ``score``, ``reload``…),
  stable across FastAPI versions (:func:`operation_id`); a test checks they are unique;
* bearer auth is declared by the key dependencies (:mod:`returnrisk.serving.deps`:
  ``HTTPBearer``), so the document has ``components.securitySchemes.bearer`` and each merchant or
  admin operation its ``security`` — Swagger shows *Authorize*;
* a parameter a route declares without a description gets the one of :data:`PARAMETERS` (the
  shared ones: product, size, customer, language, line); a test checks none is left without.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

__all__ = ["PARAMETERS", "operation_id", "install_openapi"]

PARAMETERS = {
    "product_id": "The product's id, as in the shop's products file (e.g. P000123).",
    "size": "The size label as sold (e.g. M, 38, W30); omit for a product sold without sizes.",
    "customer_id": "The shopper's customer id, to answer for their history (size profile, returns); an "
                   "unknown id is scored as a new customer.",
    "lang": "Language of labels and messages: en or fr.",
    "line_id": "The order line's id (line_id of order_lines).",
}


def operation_id(route: APIRoute) -> str:
    """The route function's name, e.g. ``product_risk``."""
    return route.name


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` fill the parameter descriptions (see the module docstring)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, servers=app.servers)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for parameter in operation.get("parameters", []) if isinstance(operation, dict) else ():
                        if not parameter.get("description") and parameter.get("name") in PARAMETERS:
                            parameter["description"] = PARAMETERS[parameter["name"]]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
