"""The service's wiring: one exception root mapped in one handler, one shop for every route, thin
routes that take services through dependencies (no route imports another, none reads app.state)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from returnrisk.data.problems import DataError, Problem
from returnrisk.errors import (
    ConflictError,
    InputError,
    ModelNotFoundError,
    NotFoundError,
    ReturnRiskError,
    UnavailableError,
)
from returnrisk.operations import sources as sources_module
from returnrisk.serving import Settings, create_app
from returnrisk.serving.errors import ApiError

KEY = {"Authorization": "Bearer merchant-key"}
ROUTES = Path(__file__).parents[1] / "src" / "returnrisk" / "serving" / "routes"


def app_with(bundle, tmp_path, **settings):
    values = {"merchant_api_keys": "merchant-key", "database_url": f"sqlite:///{tmp_path / 'r.db'}", **settings}
    return create_app(Settings(_env_file=None, **values), loader=lambda: (bundle, {"version": "3"}))


# ---- one exception root, one handler ---------------------------------------------------------------
def _raises(exc: Exception):
    def handler():
        raise exc
    return handler


async def _failing_dependency():
    raise ConflictError("raised in a dependency", code="dependency_conflict")


@pytest.mark.parametrize("exc, status, code, extra", [
    (InputError("bad value 'x': send a number"), 422, "invalid_input", {}),
    (DataError([Problem("returns", "returns.csv", "missing_column", "column 'line_id' missing", "add it",
                        structural=True)]), 422, "invalid_data", {}),
    (NotFoundError("no such thing"), 404, "not_found", {}),
    (ModelNotFoundError("no champion model"), 404, "model_not_found", {}),
    (ConflictError("already recorded differently", code="return_conflict", differences=[{"field": "a"}]),
     409, "return_conflict", {"differences": [{"field": "a"}]}),
    (UnavailableError("the shop's data is gone", code="data_unavailable"), 503, "data_unavailable", {}),
    (ReturnRiskError("something expected went wrong"), 500, "error", {}),
    (ApiError(413, "too_many_lines", "split the batch"), 413, "too_many_lines", {}),
])
def test_each_kind_of_expected_failure_has_its_status_code_and_message(tiny_bundle, tmp_path, exc, status, code,
                                                                       extra):
    app = app_with(tiny_bundle, tmp_path)
    router = APIRouter()
    router.add_api_route("/test/raise", _raises(exc))
    router.add_api_route("/test/dependency", lambda: {}, dependencies=[Depends(_failing_dependency)])
    app.include_router(router)
    with TestClient(app) as client:
        answer = client.get("/test/raise")
        assert answer.status_code == status
        assert answer.json() == {"detail": str(exc), "code": code, **extra}
        failed = client.get("/test/dependency")
        assert (failed.status_code, failed.json()["code"]) == (409, "dependency_conflict")


def test_the_tree_has_one_root():
    for kind in (InputError, DataError, NotFoundError, ModelNotFoundError, ConflictError, UnavailableError,
                 ApiError, sources_module.DataUnavailable):
        assert issubclass(kind, ReturnRiskError)
    assert issubclass(DataError, InputError) and issubclass(ModelNotFoundError, NotFoundError)


# ---- one shop for every route ------------------------------------------------------------------------
def test_fixes_kpis_and_returns_read_one_load_of_the_shop(tiny_bundle, tiny_shop, tmp_path, monkeypatch):
    loads = []
    real = sources_module.load_shop

    def counting(*args, **kwargs):
        loads.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(sources_module, "load_shop", counting)
    with TestClient(app_with(tiny_bundle, tmp_path, data_dir=str(tiny_shop))) as client:
        assert client.get("/v1/kpis", headers=KEY).status_code == 200
        recorded = client.post("/v1/returns", headers=KEY, json={"line_id": "L1", "returned_at": "2025-03-08T10:00:00Z",
                                                                  "reason_code": "too_small", "channel": "form"})
        assert recorded.status_code == 201
        # a 5-line shop: fixes and the forecast may say they cannot be computed — after reading the shop
        assert client.get("/v1/fixes", headers=KEY).status_code in (200, 503)
        assert client.get("/v1/forecast", headers=KEY).status_code in (200, 422)
        assert client.get("/dashboard", headers=KEY).status_code in (200, 503)
        assert client.app.state.services.fix_reports.cached(client.app.state.services.holder.current) is not None \
            or client.get("/v1/fixes", headers=KEY).json()["code"] == "fixes_unavailable"
    assert [Path(p).resolve() for p in loads] == [tiny_shop.resolve()]


# ---- thin routes -------------------------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
            names.update(f"{node.module}.{a.name}" for a in node.names if node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def _uses_app_state(path: Path) -> bool:
    """Code (not text) that reaches ``<something>.app.state`` or ``app.state``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "state":
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "app") or \
                    (isinstance(owner, ast.Attribute) and owner.attr == "app"):
                return True
    return False


def test_no_route_imports_another_route_or_reads_app_state():
    modules = [p for p in ROUTES.glob("*.py") if p.name != "__init__.py"]
    assert len(modules) >= 8
    for path in modules:
        imported = _imports(path)
        assert not [n for n in imported if n.startswith("returnrisk.serving.routes") or n.startswith(".")], path.name
        assert not _uses_app_state(path), path.name
        assert "def install(" not in path.read_text(), path.name


def test_only_deps_reads_the_services_from_app_state():
    serving = ROUTES.parent
    users = sorted(p.relative_to(serving).as_posix() for p in serving.rglob("*.py") if _uses_app_state(p))
    assert users == ["app.py", "deps.py"]   # app.py sets app.state.services, deps.py reads it
