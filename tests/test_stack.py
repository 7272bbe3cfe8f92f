"""The native production stack (scripts/stack.sh): PostgreSQL from the Debian packages, an MLflow
tracking server on it, two API processes — a model trained and registered through the MLflow server,
served by both; a promotion reaches both; returns recorded into PostgreSQL while one API process is
killed with SIGKILL: no acknowledged write lost or doubled.

Slow (one training, three servers): run once in CI, where PostgreSQL is required
(``RETURNRISK_REQUIRE_POSTGRES=1``); skipped with the reason elsewhere when PostgreSQL's server
programs are not installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import REQUIRE_POSTGRES

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).parents[1]
STACK = ROOT / "scripts" / "stack.sh"
KEY = "stack-admin-key"


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.environ.get("RETURNRISK_PG_BIN") or (str(Path(found[-1]).parent) if found else None)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


@pytest.fixture(scope="module")
def stack(demo_small, tmp_path_factory):
    pg_bin = _pg_bin()
    if not pg_bin or not Path(pg_bin, "initdb").exists():
        reason = "PostgreSQL's server programs are not installed (apt-get install postgresql; .ci/run does)"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} — and RETURNRISK_REQUIRE_POSTGRES=1 makes PostgreSQL required", pytrace=False)
        pytest.skip(reason)
    # not under pytest's own (private) folder: as root, PostgreSQL runs as the `postgres` user and must reach it
    state = Path(tempfile.mkdtemp(prefix="returnrisk-stack-"))
    os.chmod(state, 0o755)
    pg_port, mlflow_port, api_a, api_b = _free_ports(4)
    env = {**os.environ,
           "RETURNRISK_STACK_DIR": str(state), "RETURNRISK_STACK_DATA": str(demo_small),
           "RETURNRISK_STACK_TRAIN_ARGS": f"--params {ROOT / 'tests' / 'fast_params.yaml'}",
           "RETURNRISK_STACK_PG_PORT": str(pg_port), "RETURNRISK_STACK_MLFLOW_PORT": str(mlflow_port),
           "RETURNRISK_STACK_API_PORTS": f"{api_a} {api_b}", "RETURNRISK_PG_BIN": pg_bin,
           "RETURNRISK_MODEL_POLL_SECONDS": "1", "RETURNRISK_ADMIN_API_KEYS": KEY,
           "RETURNRISK_SECURE_COOKIES": "false"}
    for name in ("RETURNRISK_DATABASE_URL", "RETURNRISK_RETURNS_DB_URL", "RETURNRISK_TRACKING_URI",
                 "MLFLOW_TRACKING_URI", "RETURNRISK_MODEL_URI", "RETURNRISK_DATA_DIR"):
        env.pop(name, None)
    up = subprocess.run([str(STACK), "up"], env=env, capture_output=True, text=True, timeout=1500)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        printed = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        yield {"state": state, "env": env, "tracking": printed["MLFLOW_TRACKING_URI"],
               "database": printed["RETURNRISK_DATABASE_URL"], "shop": demo_small,
               "apis": {port: f"http://127.0.0.1:{port}" for port in (api_a, api_b)}}
    finally:
        down = subprocess.run([str(STACK), "down"], env=env, capture_output=True, text=True, timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr
        shutil.rmtree(state, ignore_errors=True)


def _version(url: str) -> str | None:
    try:
        answer = httpx.get(f"{url}/readyz", timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json().get("model_version") if answer.status_code == 200 else None


def test_both_api_processes_serve_the_champion_trained_through_the_mlflow_server(stack):
    from mlflow import MlflowClient

    client = MlflowClient(stack["tracking"])
    champion = client.get_model_version_by_alias("returnrisk", "champion")
    run = client.get_run(champion.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics
    assert client.get_registered_model("returnrisk").name == "returnrisk"
    assert stack["tracking"].startswith("http://")   # the server, not a local store
    for url in stack["apis"].values():
        assert _version(url) == champion.version
        answer = httpx.get(f"{url}/readyz", timeout=5)
        assert "server" not in answer.headers and answer.headers["x-frame-options"] == "DENY"
    assert (stack["state"] / "artifacts").is_dir() and any((stack["state"] / "artifacts").rglob("model.json"))
    status = subprocess.run([str(STACK), "status"], env=stack["env"], capture_output=True, text=True, timeout=60)
    assert status.stdout.count("running") == 4, status.stdout


def test_a_promotion_reaches_both_api_processes(stack):
    from mlflow import MlflowClient

    client = MlflowClient(stack["tracking"])
    old = client.get_model_version_by_alias("returnrisk", "champion")
    new = client.create_model_version("returnrisk", old.source, run_id=old.run_id,
                                      model_id=old.source.removeprefix("models:/"))
    client.set_registered_model_alias("returnrisk", "champion", new.version)   # moved from outside the API
    for url in stack["apis"].values():
        _wait(lambda url=url: _version(url) == new.version, 180, f"{url} serving version {new.version}")


def test_no_acknowledged_return_is_lost_or_doubled_when_an_api_process_is_killed(stack):
    lines = pd.read_csv(stack["shop"] / "order_lines.csv", usecols=["line_id"])["line_id"].tolist()
    returned = set(pd.read_csv(stack["shop"] / "returns.csv", usecols=["line_id"])["line_id"])
    todo = [line for line in lines if line not in returned][:400]
    (victim_port, victim), (_, survivor) = stack["apis"].items()
    victim_pid = int((stack["state"] / f"api-{victim_port}.pid").read_text())
    acknowledged: dict[str, str] = {}
    unanswered: list[str] = []
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {KEY}"}

    def body(line):
        return {"line_id": line, "returned_at": "2025-06-01T10:00:00Z", "channel": "api", "reason_code": "too_small"}

    def post(urls, chunk):
        with httpx.Client(timeout=30, headers=headers) as http:
            for i, line in enumerate(chunk):
                try:
                    answer = http.post(f"{urls[i % 2]}/v1/returns", json=body(line))
                except httpx.HTTPError:
                    with lock:
                        unanswered.append(line)
                    continue
                with lock:
                    if answer.status_code in (200, 201):
                        acknowledged[line] = answer.json()["status"]
                    else:
                        unanswered.append(line)

    threads = [threading.Thread(target=post, args=([victim, survivor], todo[k::4])) for k in range(4)]
    for t in threads:
        t.start()
    _wait(lambda: len(acknowledged) >= 80, 120, "80 returns acknowledged")
    os.kill(victim_pid, signal.SIGKILL)     # mid-way: requests in flight on it get no answer
    for t in threads:
        t.join()
    assert _version(victim) is None                         # it is gone
    assert 80 <= len(acknowledged) < len(todo) and unanswered   # some writes were cut
    # the client retries what got no answer on the survivor: idempotent, so no doubles
    with httpx.Client(timeout=30, headers=headers) as http:
        for line in unanswered:
            answer = http.post(f"{survivor}/v1/returns", json=body(line))
            assert answer.status_code in (200, 201), answer.text
            acknowledged[line] = answer.json()["status"]
    engine = sa.create_engine(stack["database"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select line_id, count(*) from returnrisk_returns group by line_id")).all()
    engine.dispose()
    stored = dict(rows)
    assert set(stored) >= set(todo) and set(acknowledged) == set(todo)   # every acknowledged return is there
    assert all(stored[line] == 1 for line in todo)                       # once
