"""returnrisk retrain / models / promote --alias: a better challenger is promoted, a worse one refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

FAST = Path(__file__).with_name("fast_params.yaml")
CLI = [sys.executable, "-m", "returnrisk"]

# a model that learnt almost nothing: one tree of a few leaves
WEAK = """split: {refit: false}
model:
  return_model: {learning_rate: 0.02, num_leaves: 2}
  reason_model: {learning_rate: 0.2}
  max_rounds_return: 1
  max_rounds_reason: 5
  early_stopping_rounds: 1
promotion: {min_new_rows: 400}
"""
GOOD = FAST.read_text() + "promotion: {min_new_rows: 400}\n"


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def params_files(tmp_path):
    (tmp_path / "weak.yaml").write_text(WEAK)
    (tmp_path / "good.yaml").write_text(GOOD)
    return tmp_path / "weak.yaml", tmp_path / "good.yaml"


def _champion(uri: str, data: Path, params: Path, as_of: str):
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.tracking import Tracker

    result = run_training(data, params=load_params(params), tracker=Tracker(uri), as_of=pd.Timestamp(as_of, tz="UTC"))
    assert result.promoted
    return result


@pytest.mark.slow
def test_retrain_promotes_a_better_challenger(demo_small, params_files, tmp_path):
    weak, good = params_files
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    champion = _champion(uri, demo_small, weak, "2026-06-01")
    proc = run_cli("retrain", "--data", str(demo_small), "--tracking-uri", uri, "--params", str(good), "--json",
                   "--no-merge")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["promoted"] is True and result["exit_code"] == 0
    assert result["champion_version"] == champion.model_version and result["challenger_version"] == "2"
    new, old = result["metrics"]["challenger"], result["metrics"]["champion"]
    assert new["auc"] > old["auc"] + 0.05 and new["log_loss"] < old["log_loss"]
    # the hold-out: the freshest matured weeks, after everything the challenger trained on
    holdout = result["holdout"]
    assert holdout["compared_rows"] >= 400 and holdout["days"] == 28
    assert pd.Timestamp(result["challenger_as_of"]) - pd.Timedelta(days=30) == pd.Timestamp(holdout["start"])
    assert {c["category"] for c in result["per_category"]} >= {"dresses", "tops"}
    from returnrisk.tracking import Tracker

    tracker = Tracker(uri)
    assert tracker.champion().version == "2"
    assert tracker.aliased("challenger").version == "2"
    files = {a.path for a in tracker.client.list_artifacts(result["challenger_run_id"], "retrain")}
    assert files == {"retrain/report.json", "retrain/report.html"}
    metrics = tracker.client.get_run(result["challenger_run_id"]).data.metrics
    assert metrics["retrain_challenger_auc"] == pytest.approx(new["auc"])
    assert metrics["retrain_champion_auc"] == pytest.approx(old["auc"])
    # models lists both with their aliases, as-of dates and decisions
    proc = run_cli("models", "--tracking-uri", uri, "--json")
    assert proc.returncode == 0, proc.stderr
    versions = {v["version"]: v for v in json.loads(proc.stdout.strip().splitlines()[-1])["versions"]}
    assert set(versions["2"]["aliases"]) == {"champion", "challenger"} and versions["1"]["aliases"] == []
    assert versions["1"]["as_of"].startswith("2026-06-01") and "promoted" in versions["2"]["decision"]
    assert versions["2"]["metrics"]["val_auc"] > 0.6


@pytest.mark.slow
def test_retrain_refuses_a_worse_challenger_and_promote_alias(demo_small, params_files, tmp_path):
    weak, good = params_files
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    champion = _champion(uri, demo_small, good, "2026-06-01")
    proc = run_cli("retrain", "--data", str(demo_small), "--tracking-uri", uri, "--params", str(weak), "--json",
                   "--no-merge")
    assert proc.returncode == 3, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["promoted"] is False and "champion kept (challenger worse)" in result["decision"]
    assert result["metrics"]["challenger"]["auc"] < result["metrics"]["champion"]["auc"]
    from returnrisk.tracking import Tracker

    tracker = Tracker(uri)
    assert tracker.champion().version == champion.model_version
    assert tracker.aliased("challenger").version == result["challenger_version"]
    # promote --alias: by hand, either alias; --version alone still means champion
    assert run_cli("promote", "--version", "1", "--alias", "challenger", "--tracking-uri", uri).returncode == 0
    assert tracker.aliased("challenger").version == "1"
    assert run_cli("promote", "--version", result["challenger_version"], "--tracking-uri", uri).returncode == 0
    assert tracker.champion().version == result["challenger_version"]
    proc = run_cli("promote", "--version", "1", "--alias", "king", "--tracking-uri", uri)
    assert proc.returncode == 2 and "--alias 'king'" in proc.stderr


@pytest.mark.slow
def test_retrain_merges_the_returns_recorded_through_the_api(demo_small, params_files, tmp_path):
    """A return recorded through the API for a line the shop's file shows as kept is trained on."""
    from returnrisk.operations.store import ReturnEvent, ReturnStore

    _, good = params_files
    lines = pd.read_csv(demo_small / "order_lines.csv")
    returned = set(pd.read_csv(demo_small / "returns.csv")["line_id"])
    kept = lines[~lines["line_id"].isin(returned)].iloc[-3000]
    db = f"sqlite:///{tmp_path}/returns.db"
    store = ReturnStore(db)
    store.record(ReturnEvent(kept["line_id"], pd.Timestamp(kept["ordered_at"]) + pd.Timedelta(days=5), "portal",
                             reason_code="too_small"))
    store.dispose()
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    proc = run_cli("retrain", "--data", str(demo_small), "--tracking-uri", uri, "--params", str(good), "--json",
                   "--db", db)
    assert proc.returncode == 0, proc.stderr           # no champion yet: the challenger becomes champion
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["merged_returns"]["stored"] == 1
    assert result["merged_returns"]["written"] == len(returned) + 1
    merged = Path(result["merged_returns"]["path"]).parent
    assert kept["line_id"] in set(pd.read_csv(merged / "returns.csv")["line_id"])
    assert "no champion yet" in result["decision"]


def test_retrain_bad_input_exits_2(tmp_path):
    proc = run_cli("retrain", "--data", str(tmp_path / "missing"), "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    assert proc.returncode == 2 and "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
