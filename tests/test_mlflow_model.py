"""The logged model as the MLflow ecosystem expects it: signature, input example, training input,
exact requirements with the project's wheel, unique run names, no warning; and a slim serving install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import returnrisk
from returnrisk.taxonomy import RETURN_GROUPS


@pytest.fixture(scope="module")
def model_dir(trained, tmp_path_factory) -> Path:
    import mlflow

    mlflow.set_tracking_uri(trained.tracking_uri)
    return Path(mlflow.artifacts.download_artifacts("models:/returnrisk/1", dst_path=str(tmp_path_factory.mktemp("m"))))


def test_model_has_a_signature_with_optional_columns_and_an_input_example(model_dir):
    from mlflow.models import Model

    model = Model.load(str(model_dir / "MLmodel"))
    inputs = {c.name: c for c in model.signature.inputs.inputs}
    assert inputs["product_id"].required and inputs["product_id"].type.name == "string"
    assert not inputs["size"].required and not inputs["customer_id"].required
    assert inputs["quantity"].type.name == "double" and inputs["ordered_at"].type.name == "string"
    assert {"category", "brand", "price", "has_size_guide"} <= set(inputs)          # a new product's page
    assert [c.name for c in model.signature.outputs.inputs] == \
        ["line_id", "p_return", *[f"p_{g}" for g in RETURN_GROUPS], "risk_band"]
    example = json.loads((model_dir / "input_example.json").read_text())
    assert "example-new-product" in json.dumps(example)
    assert (model_dir / "serving_input_example.json").is_file()


def test_requirements_pin_exact_versions_and_the_projects_wheel(model_dir):
    import lightgbm
    import mlflow
    import pandas

    requirements = (model_dir / "requirements.txt").read_text().split()
    assert f"mlflow=={mlflow.__version__}" in requirements
    assert f"lightgbm=={lightgbm.__version__}" in requirements and f"pandas=={pandas.__version__}" in requirements
    wheel_req = [r for r in requirements if r.endswith(".whl")]
    assert wheel_req == [f"./code/returnrisk-{returnrisk.__version__}-py3-none-any.whl"]
    wheel = model_dir / wheel_req[0]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"returnrisk-{returnrisk.__version__}.dist-info/METADATA").decode()
        packaged = archive.read("returnrisk/tracking/pyfunc_model.py").decode()
    assert "returnrisk/model/bundle.py" in names and "returnrisk/reasons/seed/seed_reasons.csv" in names
    assert not any("__pycache__" in n for n in names)
    assert f"Version: {returnrisk.__version__}" in metadata and "Requires-Dist: lightgbm" in metadata
    assert "Requires-Dist: shap" not in metadata                     # training plots are an extra
    assert packaged == (Path(returnrisk.__file__).parent / "tracking" / "pyfunc_model.py").read_text()


def test_training_data_is_logged_as_a_run_input_and_run_names_are_unique(trained):
    client = trained.tracker().client
    run = client.get_run(trained.result.run_id)
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.name == trained.data.name and dataset.digest == run.data.params["data.input_sha256"][:36]
    profile = json.loads(dataset.profile)
    assert profile["rows_order_lines"] == 60_000 and profile["as_of"] == trained.result.as_of.isoformat()
    assert profile["matured_rows"] + profile["immature_rows"] == 60_000
    tags = {t.key: t.value for t in inputs[0].tags}
    assert tags["mlflow.data.context"] == "training" and tags["as_of"] == trained.result.as_of.isoformat()
    assert json.loads(dataset.source)["uri"] == trained.data.resolve().as_uri()
    from returnrisk.pipeline.model_io import run_name

    names = {run_name(trained.result.as_of) for _ in range(20)}
    assert len(names) == 20 and all(n.startswith(f"train as-of {trained.result.as_of:%Y-%m-%d} · ") for n in names)
    assert run.info.run_name.startswith(f"train as-of {trained.result.as_of:%Y-%m-%d} · ")


def _no_mlflow_warning(stderr: str) -> None:
    assert "type hint" not in stderr.lower(), stderr[-2000:]
    assert "\x1b[" not in stderr, stderr[-2000:]                      # no raw colour codes
    assert "WARNING mlflow" not in stderr and "UserWarning" not in stderr, stderr[-2000:]


@pytest.mark.slow
def test_loading_and_predicting_print_no_mlflow_warning(trained, tmp_path):
    lines = pd.read_csv(trained.data / "order_lines.csv").tail(5)
    lines.to_csv(tmp_path / "in.csv", index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": trained.tracking_uri}
    code = ("import mlflow, pandas as pd; m = mlflow.pyfunc.load_model('models:/returnrisk@champion'); "
            f"print(m.predict(pd.read_csv({str(tmp_path / 'in.csv')!r})).shape)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and "(5, 9)" in proc.stdout, proc.stderr
    _no_mlflow_warning(proc.stderr)
    proc = subprocess.run([sys.executable, "-m", "returnrisk", "predict", "--input", str(tmp_path / "in.csv"),
                           "--output", str(tmp_path / "out.csv"), "--tracking-uri", trained.tracking_uri],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    _no_mlflow_warning(proc.stderr)
    payload = {"dataframe_split": json.loads(lines.to_json(orient="split", index=False))}
    (tmp_path / "in.json").write_text(json.dumps(payload))
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    proc = subprocess.run([str(mlflow_cli), "models", "predict", "-m", "models:/returnrisk/1", "-i",
                           str(tmp_path / "in.json"), "-t", "json", "--env-manager", "local"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["predictions"][0]["line_id"] == lines["line_id"].iloc[0]
    _no_mlflow_warning(proc.stderr)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_train_fixes_monitor_and_serve_print_no_mlflow_warning(demo_small, tmp_path):
    """Every command that logs or loads a model, as a user runs it: no "Add type hints" warning, no raw
    colour codes, no Python warning on stderr (stderr is not a terminal here, as in a log file)."""
    import time
    import urllib.request

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    fast = str(Path(__file__).with_name("fast_params.yaml"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "RETURNRISK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.db'}"}
    cli = [sys.executable, "-m", "returnrisk"]
    as_of = "2026-07-01"   # leaves lines after it for monitor
    commands = {
        "train": [*cli, "train", "--data", str(demo_small), "--params", fast, "--as-of", as_of, "--json"],
        "fixes": [*cli, "fixes", "--data", str(demo_small), "--output", str(tmp_path / "fixes.json")],
        "monitor": [*cli, "monitor", "--data", str(demo_small), "--out", str(tmp_path / "report"), "--json"],
        "models": [*cli, "models", "--json"],
    }
    for name, command in commands.items():
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
        assert proc.returncode == 0, (name, proc.stderr[-3000:])
        _no_mlflow_warning(proc.stderr)
        if "--json" in command:
            json.loads(proc.stdout.strip().splitlines()[-1])   # and the JSON is intact
    port = _free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--log-level", "warning"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, ready = time.monotonic() + 300, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
                    ready = json.loads(answer.read())
                    break
            except OSError:
                time.sleep(1)
        assert ready and ready["status"] == "ready" and ready["model_version"] == "1", server.poll()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
            assert "returnrisk_monitor_report_available 1.0" in answer.read().decode()   # the report just logged
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    _no_mlflow_warning(stderr)


BLOCKER = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('shap', 'matplotlib', 'numba', 'llvmlite'):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
sys.meta_path.insert(0, Blocker())
"""


@pytest.mark.slow
def test_serving_imports_and_answers_without_shap_and_matplotlib(trained):
    code = BLOCKER + f"""
import pkgutil, importlib, returnrisk
skipped = {{'returnrisk.pipeline.plots'}}
for info in pkgutil.walk_packages(returnrisk.__path__, 'returnrisk.'):
    if info.name not in skipped and not info.name.startswith('returnrisk.tracking.pyfunc_model'):
        importlib.import_module(info.name)
from fastapi.testclient import TestClient
from returnrisk.serving import Settings, create_app
from returnrisk.tracking import Tracker
bundle, _ = Tracker({trained.tracking_uri!r}).load_bundle('models:/returnrisk@champion')
product = bundle.snapshot.product_sizes.iloc[0]
with TestClient(create_app(Settings(tracking_uri={trained.tracking_uri!r}))) as client:
    r = client.get(f"/v1/products/{{product['product_id']}}/risk", params={{'size': product['size']}})
    assert r.status_code == 200, r.text
    assert 0 < r.json()['p_return'] < 1
    r = client.post('/v1/score', json={{'lines': [{{'product_id': product['product_id'], 'size': product['size']}}]}})
    assert r.status_code == 200, r.text
import numpy as np
from returnrisk.pipeline.plots import validation_figures
assert validation_figures(bundle.model, np.zeros((3, len(bundle.model.feature_names))), np.array([0, 1, 0]),
                          np.array([.2, .5, .3])) == {{}}
assert not any(m.split('.')[0] in ('shap', 'matplotlib') for m in sys.modules)
print('served without shap and matplotlib')
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "served without shap and matplotlib" in proc.stdout
    assert "install 'returnrisk[train]'" in proc.stderr          # the training plots say what is missing


@pytest.mark.slow
def test_model_loads_in_a_new_virtual_environment_from_its_own_wheel(model_dir, tmp_path):
    """A new venv gets returnrisk only from the wheel logged with the model (its third-party
    libraries are borrowed from this environment, so the test runs offline; the benchmark
    benchmarks/model_fresh_env.py installs everything from the package index)."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (Path(site) / "borrowed.pth").write_text(ours + "\n")
    wheel = [r for r in (model_dir / "requirements.txt").read_text().split() if r.endswith(".whl")][0]
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel],
                          cwd=model_dir, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    code = ("import mlflow, json, returnrisk; from mlflow.models import Model; "
            f"m = mlflow.pyfunc.load_model({str(model_dir)!r}); "
            f"example = Model.load({str(model_dir)!r}).load_input_example({str(model_dir)!r}); "
            "out = m.predict(example); print(json.dumps({'where': returnrisk.__file__, 'rows': len(out), "
            "'p': float(out['p_return'].iloc[0])}))")
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["where"].startswith(site) and result["rows"] == 2 and 0 < result["p"] < 1
    _no_mlflow_warning(proc.stderr)
