"""Training end to end: honest metrics, MLflow run and registry, promotion, predict, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from returnrisk.pipeline.params import TrainParams, load_params
from returnrisk.taxonomy import RETURN_GROUPS

CLI = [sys.executable, "-m", "returnrisk"]
FAST = Path(__file__).with_name("fast_params.yaml")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=900)


def test_default_params_file_matches_the_code_defaults():
    assert load_params() == TrainParams()


def test_params_file_errors_name_the_problem(tmp_path):
    from returnrisk.errors import InputError

    bad = tmp_path / "p.yaml"
    bad.write_text("modle:\n  seed: 1\n")
    with pytest.raises(InputError, match=r"unknown key 'modle' at the top level \(did you mean 'model'\?\)"):
        load_params(bad)
    with pytest.raises(InputError, match="not found"):
        load_params(tmp_path / "missing.yaml")


def test_quality_on_the_demo_shop_is_measured_on_the_future(trained):
    m = trained.result.metrics
    assert trained.result.promoted and trained.result.model_version == "1"
    # honest validation: rows after the training period, labels known only at as-of
    assert m["val_rows"] > 2000 and m["train_rows"] > 20000
    assert m["val_auc"] > m["baseline_product_rate_auc"] + 0.04
    assert m["val_log_loss"] < m["baseline_global_rate_log_loss"]
    assert m["val_ece"] < 0.03
    assert m["ceiling_share"] > 0.85                     # loose version of the ≥ 90 % bar
    assert m["val_auc_too_small"] > 0.72 and m["val_auc_too_large"] > 0.72
    assert 0.2 < m["val_mean_predicted"] < 0.5
    assert abs(m["val_mean_predicted"] - m["val_return_rate"]) < 0.03
    assert not np.isnan(m["val_auc_cold_start"])
    assert m["immature_rows"] > 0


def test_mlflow_run_has_params_metrics_fingerprint_plots_and_registered_pyfunc(trained):
    import mlflow

    client = trained.tracker().client
    run = client.get_run(trained.result.run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["window_days"] == "30" and params["model.return_model.num_leaves"] == "31"
    assert len(params["data.input_sha256"]) == 64
    assert params["data.rows_order_lines"] == "60000"
    assert "code_version" in params
    for key in ("val_auc", "val_log_loss", "val_brier", "val_ece", "val_auc_too_small", "val_auc_cold_start",
                "baseline_product_rate_auc", "baseline_global_rate_log_loss", "ceiling_auc", "time_fit_s"):
        assert key in run.data.metrics, key
    artifacts = {a.path for a in client.list_artifacts(trained.result.run_id)}
    assert {"calibration.png", "shap_summary.png", "promotion.json"} <= artifacts
    champion = trained.tracker().champion()
    assert champion.version == "1"
    mlflow.set_tracking_uri(trained.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/returnrisk@champion")
    lines = pd.read_csv(trained.data / "order_lines.csv").tail(5)
    out = model.predict(lines)
    assert list(out.columns) == ["line_id", "p_return", *[f"p_{g}" for g in RETURN_GROUPS], "risk_band"]
    assert out["p_return"].between(0, 1).all()
    np.testing.assert_allclose(out[[f"p_{g}" for g in RETURN_GROUPS]].sum(axis=1), out["p_return"], rtol=1e-6)


def test_bundle_reproduces_the_served_model_scores(trained):
    from returnrisk.scoring.batch import score_frame

    bundle = trained.bundle()
    lines = pd.read_csv(trained.data / "order_lines.csv").tail(50)
    a = score_frame(bundle, lines)
    b = score_frame(bundle, lines)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["risk_band"]) <= {"low", "medium", "high"}


def test_predict_cli_scores_a_file(trained, tmp_path):
    lines = pd.read_csv(trained.data / "order_lines.csv").tail(200)
    source = tmp_path / "new.parquet"
    lines.to_parquet(source, index=False)
    out = tmp_path / "preds.csv"
    proc = run_cli("predict", "--data", str(trained.data), "--input", str(source), "--output", str(out),
                   "--tracking-uri", trained.tracking_uri)
    assert proc.returncode == 0, proc.stderr
    preds = pd.read_csv(out)
    assert len(preds) == 200 and preds["line_id"].tolist() == lines["line_id"].tolist()
    assert {"p_return", "p_too_small", "p_too_large", "risk_band"} <= set(preds.columns)


def test_predict_cli_bad_input_says_what_and_where(trained, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("line_id,product_id,ordered_at\nX1,P000001,yesterday\n")
    proc = run_cli("predict", "--input", str(bad), "--output", str(tmp_path / "o.csv"),
                   "--tracking-uri", trained.tracking_uri)
    assert proc.returncode == 2
    assert "column 'ordered_at': 1 invalid value(s) (row 1: 'yesterday')" in proc.stderr + proc.stdout
    assert not (tmp_path / "o.csv").exists()
    missing = tmp_path / "m.csv"
    missing.write_text("line_id,sku\nX1,P1\n")
    proc = run_cli("predict", "--input", str(missing), "--output", str(tmp_path / "o.csv"),
                   "--tracking-uri", trained.tracking_uri)
    assert proc.returncode == 2 and "column 'product_id' missing in m.csv (columns found: line_id, sku)" in proc.stderr


def test_no_champion_gives_a_clear_error(tmp_path):
    lines = tmp_path / "l.csv"
    lines.write_text("line_id,product_id\nX1,P1\n")
    proc = run_cli("predict", "--input", str(lines), "--output", str(tmp_path / "o.csv"),
                   "--tracking-uri", f"sqlite:///{tmp_path}/empty.db")
    assert proc.returncode == 2
    assert "no champion model: run `returnrisk train --data DIR` first" in proc.stderr


def test_broken_input_leaves_the_registry_untouched(trained, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "products.csv").write_text("product_id,category\nP1,dresses\n")
    proc = run_cli("train", "--data", str(broken), "--tracking-uri", trained.tracking_uri)
    assert proc.returncode == 2
    assert "column 'price' missing in products.csv" in proc.stderr
    assert "file missing: expected order_lines.csv or order_lines.parquet" in proc.stderr
    versions = trained.tracker().model_versions()
    assert [v["version"] for v in versions] == ["1"] or trained.tracker().champion().version == "1"


def test_interrupted_training_never_touches_the_champion(trained, monkeypatch):
    from returnrisk.pipeline.train import run_training
    from returnrisk.tracking import Tracker

    tracker = Tracker(trained.tracking_uri)
    before = tracker.champion().version

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Tracker, "log_model", explode)
    with pytest.raises(KeyboardInterrupt):
        run_training(trained.data, params=load_params(FAST), tracker=tracker)
    assert tracker.champion().version == before
    runs = tracker.client.search_runs([tracker.client.get_experiment_by_name("returnrisk").experiment_id])
    assert any(r.info.status in ("FAILED", "KILLED") for r in runs)


def test_train_json_promotion_rules_and_promote_override(trained, tmp_path):
    # same data again: the champion has seen every validation row, so no fair comparison → kept
    proc = run_cli("train", "--data", str(trained.data), "--tracking-uri", trained.tracking_uri, "--json",
                   "--params", str(FAST))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"run_id", "model_version", "promoted", "metrics"} <= set(result)
    assert result["promoted"] is False
    assert "no fair comparison" in result["decision"]
    assert result["metrics"]["val_auc"] > 0.6
    new_version = result["model_version"]
    tracker = trained.tracker()
    assert tracker.champion().version != new_version
    proc = run_cli("promote", "--version", new_version, "--tracking-uri", trained.tracking_uri)
    assert proc.returncode == 0, proc.stderr
    assert tracker.champion().version == new_version
    proc = run_cli("promote", "--version", "999", "--tracking-uri", trained.tracking_uri)
    assert proc.returncode == 2 and "has no version 999" in proc.stderr
    tracker.set_champion("1")  # leave the session's champion as it was


def test_as_of_training_compares_fairly_and_can_promote(trained, tmp_path):
    """A model trained as-of an earlier date is champion; training on all data compares on unseen rows."""
    from returnrisk.pipeline.train import run_training
    from returnrisk.tracking import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path}/m.db")
    early = run_training(trained.data, params=load_params(FAST), tracker=tracker,
                         as_of=pd.Timestamp("2026-05-01", tz="UTC"))
    assert early.promoted and early.as_of == pd.Timestamp("2026-05-01", tz="UTC")
    late = run_training(trained.data, params=load_params(FAST), tracker=tracker)
    assert late.comparison["comparison_rows"] > 1000
    assert {"candidate_log_loss", "champion_log_loss", "candidate_auc", "champion_auc"} <= set(late.comparison)
    assert late.promoted == (tracker.champion().version == late.model_version)
