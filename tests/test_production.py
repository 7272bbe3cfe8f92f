"""Issue 18 in one process: headers and request ids, the login throttle, revocable sessions, the OpenAPI
document and its local assets, reload failures (503 reload_failed, counted), the registry alias watch
followed by every worker, and the one-line start-up errors of ``returnrisk serve``.

On the trained model cut to a few products (``tiny_bundle``) and a registry of its own per test
(``TinyRegistry``), so that reloads and alias moves take a moment."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import TinyRegistry
from returnrisk.cli import main
from returnrisk.serving import Settings, create_app
from returnrisk.serving.headers import CSP

MERCHANT, ADMIN = "merchant-key-1", "admin-key-1"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def loader_for(bundle, version="1"):
    return lambda: (bundle, {"version": version, "alias": "champion", "uri": "models:/returnrisk@champion",
                             "run_id": "test"})


def settings(tmp_path, **kw) -> Settings:
    values = dict(merchant_api_keys=MERCHANT, admin_api_keys=ADMIN, database_url=f"sqlite:///{tmp_path}/service.db",
                  model_poll_seconds=0)
    return Settings(**{**values, **kw})


@pytest.fixture
def client(tiny_bundle, tmp_path):
    with TestClient(create_app(settings(tmp_path), loader=loader_for(tiny_bundle))) as c:
        yield c


# ---- headers ---------------------------------------------------------------------------------------
SECURITY = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
            "referrer-policy": "strict-origin-when-cross-origin"}


@pytest.mark.parametrize("path, kind", [("/readyz", "json"), ("/v1/model", "json"), ("/dashboard/login", "html"),
                                        ("/v1/products/nope/risk?size=M", "json"), ("/docs", "html"),
                                        ("/v1/admin/reload", "json")])
def test_every_answer_has_the_security_headers_and_a_request_id(client, path, kind):
    answer = client.get(path)
    assert answer.headers["content-type"].startswith("application/json" if kind == "json" else "text/html")
    for name, value in SECURITY.items():
        assert answer.headers[name] == value, name
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp.split(
        "script-src")[1].split(";")[0]
    assert answer.headers["strict-transport-security"].startswith("max-age=")   # secure cookies: on by default
    assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,64}", answer.headers["x-request-id"])


def test_request_ids_are_new_per_request_or_the_callers(client):
    ids = {client.get("/readyz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    assert client.get("/readyz", headers={"X-Request-ID": "order-42.a"}).headers["x-request-id"] == "order-42.a"
    forged = client.get("/readyz", headers={"X-Request-ID": "bad id\r\nSet-Cookie: x"}).headers["x-request-id"]
    assert forged != "bad id\r\nSet-Cookie: x" and " " not in forged


def test_no_hsts_without_secure_cookies(tiny_bundle, tmp_path):
    with TestClient(create_app(settings(tmp_path, secure_cookies=False), loader=loader_for(tiny_bundle))) as c:
        answer = c.get("/readyz")
    assert "strict-transport-security" not in answer.headers
    assert answer.headers["content-security-policy"] == CSP


def test_the_dashboard_needs_no_inline_script_or_style(client):
    page = client.get("/dashboard/login").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert "<style" not in page and not re.search(r"\sstyle=", page), "inline style"
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"
    sheet = re.search(r'<link[^>]+href="([^"]+\.css)"', page).group(1)
    css = client.get(sheet)
    assert css.status_code == 200 and "text/css" in css.headers["content-type"] and "{" in css.text


# ---- login throttle and sessions -------------------------------------------------------------------
def _login(c, key):
    return c.post("/dashboard/login", data={"key": key, "next": "/dashboard"}, follow_redirects=False)


def test_five_wrong_keys_from_one_address_then_429_with_retry_after(tiny_bundle, tmp_path, caplog):
    app = create_app(settings(tmp_path, secure_cookies=False), loader=loader_for(tiny_bundle))
    with TestClient(app, client=("10.0.0.1", 5000)) as one, TestClient(app, client=("10.0.0.2", 5000)) as two:
        codes = [_login(one, f"wrong-{i}").status_code for i in range(5)]
        assert codes == [200] * 5                      # the form again, with "wrong key"
        refused = _login(one, "wrong-6")
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 300
        assert _login(one, MERCHANT).status_code == 429   # not even the right key: the key is not checked
        assert _login(two, MERCHANT).status_code == 303   # another address is not concerned
    assert any("10.0.0.1" in r.getMessage() and "429" in r.getMessage() or "throttl" in r.getMessage().lower()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert not any(MERCHANT in r.getMessage() or "wrong-3" in r.getMessage() for r in caplog.records)


def test_wrong_keys_from_many_addresses_throttle_everyone(tiny_bundle, tmp_path):
    app = create_app(settings(tmp_path, secure_cookies=False, login_max_failures_global=6),
                     loader=loader_for(tiny_bundle))
    with TestClient(app) as first:
        for i in range(6):
            with TestClient(app, client=(f"10.1.0.{i}", 5000)) as c:
                assert _login(c, "wrong").status_code == 200
        with TestClient(app, client=("10.9.9.9", 5000)) as fresh:
            refused = _login(fresh, MERCHANT)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert first.get("/readyz").status_code == 200


def test_logout_ends_the_session_on_the_server(tiny_bundle, tmp_path):
    app = create_app(settings(tmp_path, secure_cookies=False), loader=loader_for(tiny_bundle))
    with TestClient(app) as c:
        login = _login(c, MERCHANT)
        assert login.status_code == 303
        cookie = login.cookies.get("returnrisk_session") or next(iter(login.cookies.values()))
        name = next(iter(login.cookies.keys()))
        c.cookies.clear()
        kept = {name: cookie}
        assert c.get("/dashboard/model", cookies=kept, follow_redirects=False).status_code == 200
        c.get("/dashboard/logout", cookies=kept, follow_redirects=False)
        c.cookies.clear()
        again = c.get("/dashboard/model", cookies=kept, follow_redirects=False)   # the old cookie, replayed
        assert again.status_code == 303 and again.headers["location"].startswith("/dashboard/login")
        tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
        assert c.get("/dashboard/model", cookies={name: tampered}, follow_redirects=False).status_code == 303
    # another worker (another app on the same database) refuses the revoked cookie too
    with TestClient(create_app(settings(tmp_path, secure_cookies=False), loader=loader_for(tiny_bundle))) as other:
        assert other.get("/dashboard/model", cookies=kept, follow_redirects=False).status_code == 303


# ---- OpenAPI and its pages ---------------------------------------------------------------------------
def test_openapi_declares_bearer_auth_operation_ids_and_parameter_descriptions(client):
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())
    ids = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op.get("operationId"), f"{method} {path}"
            ids.append(op["operationId"])
            for parameter in op.get("parameters", []):
                assert parameter.get("description"), f"{method} {path}: {parameter['name']}"
    assert len(ids) == len(set(ids))
    assert doc["paths"]["/v1/admin/reload"]["post"]["security"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_service(client, page):
    html = client.get(page).text
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
        assert "cdn.jsdelivr" not in answer.text[:5000]


# ---- reload failures and the alias watch ----------------------------------------------------------------
def _truncate_model(folder: Path) -> None:
    text = (folder / "model.json").read_text()
    (folder / "model.json").write_text(text[: len(text) // 3])


def _metric(client, name, **labels) -> float:
    text = client.get("/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, flags=re.M)
    return float(found.group(1)) if found else 0.0


def test_a_damaged_champion_on_reload_is_503_reload_failed_and_the_old_model_serves(tiny_bundle, tmp_path):
    registry = TinyRegistry(tmp_path / "mlruns", tiny_bundle)
    registry.register(champion=True)
    with TestClient(create_app(settings(tmp_path, tracking_uri=registry.tracking_uri))) as c:
        assert c.get("/readyz").json()["model_version"] == "1"
        registry.register(damage=_truncate_model, champion=True)
        answer = c.post("/v1/admin/reload", headers=AUTH)
        assert answer.status_code == 503 and answer.json()["code"] == "reload_failed"
        assert "model.json" in answer.json()["detail"] and "returnrisk train" in answer.json()["detail"]
        assert "Traceback" not in answer.text
        assert c.get("/readyz").json()["model_version"] == "1"            # the old model keeps serving
        assert _metric(c, "returnrisk_model_reloads_total", result="failed") == 1
        assert "_created" not in c.get("/metrics").text


def test_every_worker_follows_the_alias_and_skips_a_damaged_version(tiny_bundle, tmp_path):
    registry = TinyRegistry(tmp_path / "mlruns", tiny_bundle)
    registry.register(champion=True)
    cfg = settings(tmp_path, tracking_uri=registry.tracking_uri, model_poll_seconds=0.3)
    with TestClient(create_app(cfg)) as one, TestClient(create_app(cfg)) as two:
        workers = (one, two)
        assert [w.get("/readyz").json()["model_version"] for w in workers] == ["1", "1"]
        version = registry.register(champion=True)        # promoted elsewhere (another process)
        _until(lambda: all(w.get("/readyz").json()["model_version"] == version for w in workers), 60)
        broken = registry.register(damage=_truncate_model, champion=True)
        _until(lambda: all(_metric(w, "returnrisk_model_reloads_total", result="failed") == 1 for w in workers), 60)
        time.sleep(1.0)                                   # several more polls: tried once, not again and again
        for w in workers:
            assert w.get("/readyz").json()["model_version"] == version != broken
            assert _metric(w, "returnrisk_model_reloads_total", result="failed") == 1


def _until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


# ---- returnrisk serve: clean start-up errors ----------------------------------------------------------
def run_serve(capsys, monkeypatch, env: dict) -> tuple[int, str]:
    for name in ("RETURNRISK_DATABASE_URL", "RETURNRISK_RETURNS_DB_URL", "RETURNRISK_TRACKING_URI",
                 "MLFLOW_TRACKING_URI", "RETURNRISK_MODEL_URI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        main(["serve", "--port", "1"])   # never reached: every case stops in the preflight
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(scope="module")
def good_registry(tiny_bundle, tmp_path_factory) -> TinyRegistry:
    registry = TinyRegistry(tmp_path_factory.mktemp("serve_registry"), tiny_bundle)
    registry.register(champion=True)
    return registry


def _damaged_registry(tiny_bundle, tmp_path, damage) -> str:
    registry = TinyRegistry(tmp_path / "mlruns", tiny_bundle)
    registry.register(damage=damage, champion=True)
    return registry.tracking_uri


def _break_meta(folder: Path) -> None:
    (folder / "meta.json").write_bytes(b'{"format": "returnrisk-bundle/1", "as_of": \xff\xfe')


def _unknown_format(folder: Path) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": "someone-else/9"}))


def _drop_model(folder: Path) -> None:
    (folder / "model.json").unlink()


@pytest.mark.parametrize("case, expected", [
    ("missing folder", r"RETURNRISK_DATABASE_URL: the folder .*/nowhere of the service database does not exist"),
    ("read-only folder", r"RETURNRISK_DATABASE_URL: /sys is read-only for this user"),
    ("not a database", r"service database .* cannot be opened \(file is not a database\): point "
                       r"RETURNRISK_DATABASE_URL"),
    ("no champion", r"no champion model: run `returnrisk train --data DIR` first"),
    ("truncated model.json", r"model\.json: cannot be read .*returnrisk train --data DIR"),
    ("missing model.json", r"model\.json.*missing.*returnrisk train --data DIR"),
    ("broken meta.json", r"meta\.json: cannot be read \(UnicodeDecodeError.*returnrisk train --data DIR"),
    ("unknown format", r"meta\.json: unknown bundle format 'someone-else/9'"),
    ("tracking store not a database", r"cannot be read from the tracking store .*check RETURNRISK_TRACKING_URI"),
])
def test_serve_stops_with_one_clear_line(case, expected, capsys, monkeypatch, tmp_path, tiny_bundle, good_registry):
    env = {"RETURNRISK_DATABASE_URL": f"sqlite:///{tmp_path}/service.db",
           "RETURNRISK_TRACKING_URI": good_registry.tracking_uri}
    if case == "missing folder":
        env["RETURNRISK_DATABASE_URL"] = f"sqlite:///{tmp_path}/nowhere/service.db"
    elif case == "read-only folder":
        env["RETURNRISK_DATABASE_URL"] = "sqlite:////sys/returnrisk-service.db"   # refused even to root
    elif case == "not a database":
        (tmp_path / "service.db").write_bytes(b"this is not sqlite" * 300)
    elif case == "no champion":
        env["RETURNRISK_TRACKING_URI"] = f"sqlite:///{tmp_path}/empty-mlflow.db"
    elif case == "tracking store not a database":
        (tmp_path / "mlflow.db").write_bytes(b"garbage" * 500)
        env["RETURNRISK_TRACKING_URI"] = f"sqlite:///{tmp_path}/mlflow.db"
    else:
        damage = {"truncated model.json": _truncate_model, "missing model.json": _drop_model,
                  "broken meta.json": _break_meta, "unknown format": _unknown_format}[case]
        env["RETURNRISK_TRACKING_URI"] = _damaged_registry(tiny_bundle, tmp_path, damage)
    code, output = run_serve(capsys, monkeypatch, env)
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("Downloading artifacts")]
    errors = [line for line in lines if "error" in line.lower()]
    assert code == 2, output
    assert "Traceback" not in output and len(errors) == 1, output
    assert re.search(expected, " ".join(output.split())), output


def test_serve_preflight_passes_on_a_good_setup(good_registry, tmp_path, monkeypatch):
    from returnrisk.cli.serve_command import check_database, check_model

    check_database(f"sqlite:///{tmp_path}/service.db")
    assert (tmp_path / "service.db").exists()
    assert check_model(Settings(tracking_uri=good_registry.tracking_uri)) == "1"


# ---- returnrisk serve --workers 2: one scrape for both, JSON logs, no Server header -----------------------
@pytest.mark.slow
def test_two_workers_share_one_scrape_and_log_json_lines_with_request_ids(good_registry, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RETURNRISK_TRACKING_URI": good_registry.tracking_uri, "RETURNRISK_LOG_FORMAT": "json",
           "RETURNRISK_ACCESS_LOG": "true", "RETURNRISK_DATABASE_URL": f"sqlite:///{tmp_path}/service.db",
           "RETURNRISK_METRICS_DIR": str(tmp_path / "metrics"), "RETURNRISK_MODEL_POLL_SECONDS": "0"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen([str(Path(sys.executable).with_name("returnrisk")), "serve", "--workers", "2",
                                   "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def versions():
            text = httpx.get(f"{base}/metrics", timeout=5).text
            return re.findall(r'^returnrisk_model_version\{[^}]*pid="(\d+)"[^}]*\} 1\.0$', text, flags=re.M)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if len(set(versions())) == 2:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        else:
            raise AssertionError("two workers did not both report a model:\n" + log.read_text()[-3000:])
        n = 40
        for i in range(n):   # a new connection each: spread over both workers by the kernel
            answer = httpx.get(f"{base}/readyz", headers={"X-Request-ID": f"soak-{i}"}, timeout=10)
            assert answer.status_code == 200 and "server" not in answer.headers
        text = httpx.get(f"{base}/metrics", timeout=5).text
        counted = sum(float(v) for v in re.findall(
            r'^returnrisk_http_requests_total\{[^}]*route="/readyz"[^}]*status="200"[^}]*\} (\S+)$', text, flags=re.M))
        assert counted == n                        # every request, whichever worker answered, in one scrape
        assert "_created" not in text
    finally:
        server.terminate()
        server.wait(60)
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    others = [line for line in log.read_text().splitlines() if line.strip() and not line.startswith("{")
              and not line.startswith(("serving ", "Downloading artifacts", "INFO     service database"))
              and "Warning" not in line
              and not line.startswith("  ")]
    assert others == [], others
    assert {e["logger"] for e in entries} >= {"uvicorn.error", "uvicorn.access"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["ts"]) for e in entries)
    access = [e for e in entries if e["logger"] == "uvicorn.access" and e.get("path") == "/readyz"]
    assert {e["request_id"] for e in access} >= {f"soak-{i}" for i in range(n)}


# ---- runs left RUNNING by a killed training ------------------------------------------------------------
def test_the_next_training_fails_only_runs_whose_process_is_gone_and_tags_their_versions(tiny_bundle, tmp_path):
    import os
    import socket
    import subprocess

    from mlflow import MlflowClient

    from returnrisk.tracking.stuck_runs import HOST_TAG, PID_TAG, STARTED_TAG, process_tags

    registry = TinyRegistry(tmp_path / "mlruns", tiny_bundle)
    registry.register(champion=True)
    tracker = registry.tracker()
    client = MlflowClient(registry.tracking_uri)
    experiment = tracker._experiment_id()
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    runs = {
        "killed": {HOST_TAG: host, PID_TAG: str(dead.pid)},
        "alive": process_tags(),                                        # a training still running (this one)
        "elsewhere": {HOST_TAG: "another-host", PID_TAG: str(dead.pid)},
        "reused pid": {HOST_TAG: host, PID_TAG: str(os.getpid()), STARTED_TAG: "1"},   # same pid, other process
    }
    ids = {name: client.create_run(experiment, tags=tags).info.run_id for name, tags in runs.items()}
    source = client.get_model_version("returnrisk", "1")
    orphan = client.create_model_version("returnrisk", source.source, run_id=ids["killed"],
                                         model_id=source.source.removeprefix("models:/")).version
    reaped = tracker.reap_stuck_runs()
    assert sorted(reaped.failed_runs) == sorted([ids["killed"], ids["reused pid"]])
    assert sorted(reaped.left_running) == sorted([ids["alive"], ids["elsewhere"]])
    status = {name: client.get_run(run_id).info.status for name, run_id in ids.items()}
    assert status == {"killed": "FAILED", "alive": "RUNNING", "elsewhere": "RUNNING", "reused pid": "FAILED"}
    assert "ended without finishing" in client.get_run(ids["killed"]).data.tags["returnrisk.failure"]
    assert reaped.abandoned_versions == [str(orphan)]
    tags = client.get_model_version("returnrisk", orphan).tags
    assert tags["abandoned"] == "true" and tags["promotion"].startswith("abandoned")
    assert "abandoned" not in client.get_model_version("returnrisk", "1").tags   # decided versions untouched
    assert tracker.reap_stuck_runs().failed_runs == []                            # nothing left to reap
