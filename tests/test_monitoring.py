"""returnrisk monitor: drift figures, verdicts with the thresholds they crossed, reports and MLflow logging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from returnrisk.monitoring.drift import compare, distribution_of, jensen_shannon, psi, shares_in
from returnrisk.monitoring.monitor import chance_ece

FAST = Path(__file__).with_name("fast_params.yaml")
CLI = [sys.executable, "-m", "returnrisk"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)


# ---- drift figures ------------------------------------------------------------------------------
def test_psi_and_jensen_shannon_measure_a_shift_and_nothing_else():
    rng = np.random.default_rng(0)
    reference = distribution_of(rng.normal(0, 1, 20_000))
    assert reference["kind"] == "numeric" and len(reference["shares"]) == len(reference["edges"]) + 2
    same = compare(reference, rng.normal(0, 1, 20_000))
    shifted = compare(reference, rng.normal(1.0, 1, 20_000))
    assert same["psi"] < 0.01 and same["js"] < 0.05
    assert shifted["psi"] > 0.5 and shifted["js"] > 0.25
    # PSI by hand on two bins: (0.8 − 0.5)·ln(0.8/0.5) + (0.2 − 0.5)·ln(0.2/0.5)
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(0.3 * np.log(1.6) + 0.3 * np.log(2.5))
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)


def test_discrete_features_keep_missing_and_unseen_values_apart():
    reference = distribution_of(np.array([0, 1, 1, 2, np.nan]), categorical=True)
    assert reference["values"] == [0.0, 1.0, 2.0]
    shares = shares_in(reference, np.array([1, 1, 7, np.nan]))
    assert shares.tolist() == [0.0, 0.5, 0.0, 0.25, 0.25]     # 0, 1, 2, unseen (7), missing


def test_chance_ece_is_what_a_calibrated_model_gets_on_few_lines():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.1, 0.7, 800)
    from returnrisk.model.evaluation import expected_calibration_error

    eces = np.array([expected_calibration_error((rng.random(p.size) < p).astype(int), p) for _ in range(1000)])
    chance = chance_ece(p)                                # the 99th percentile by default
    assert 0.01 < chance < 0.08
    assert 0.97 <= np.mean(eces <= chance) < 1.0
    assert chance_ece(p, quantile=0.5) == pytest.approx(np.median(eces), abs=0.002)
    assert chance_ece(p, quantile=0.95) == pytest.approx(np.quantile(eces, 0.95), abs=0.003)
    assert chance_ece(p, quantile=0.5) < chance_ece(p, quantile=0.95) < chance
    # stable from one seed to the next (40 draws moved the 95th percentile by up to 0.01)
    assert abs(chance_ece(p, quantile=0.95, seed=1) - chance_ece(p, quantile=0.95, seed=2)) < 0.003
    # a large bin drawn from its normal approximation agrees with drawing every line
    big = rng.uniform(0.3, 0.4, 5000)
    many = np.array([expected_calibration_error((rng.random(big.size) < big).astype(int), big) for _ in range(1000)])
    assert chance_ece(big, quantile=0.9) == pytest.approx(np.quantile(many, 0.9), rel=0.08)
    assert np.isnan(chance_ece(np.array([])))


# ---- the verdict on a planted drift and without it ------------------------------------------------------
@pytest.fixture(scope="module")
def drift_pair(demo_small, tmp_path_factory):
    """The 20,000-line seed-3 shop with and without the planted drift, each with a model trained as of
    the drift's start (fast parameters), each in its own MLflow store."""
    from returnrisk.demo.generator import generate_demo_shop
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.tracking import Tracker

    root = tmp_path_factory.mktemp("drift_pair")
    planted = root / "planted"
    manifest = generate_demo_shop(planted, seed=3, n_lines=20_000, plant_drift=True)
    start = pd.Timestamp(manifest["planted_drift"]["start"])
    out = {}
    for name, folder in (("plain", demo_small), ("planted", planted)):
        uri = f"sqlite:///{root}/{name}/mlflow.db"
        result = run_training(folder, params=load_params(FAST), tracker=Tracker(uri), as_of=start)
        out[name] = {"data": folder, "uri": uri, "run_id": result.run_id, "version": result.model_version}
    return out


def _monitor_json(entry, tmp_path) -> dict:
    proc = run_cli("monitor", "--data", str(entry["data"]), "--tracking-uri", entry["uri"], "--json",
                   "--out", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1                               # the JSON alone on stdout
    return json.loads(lines[0], parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


@pytest.fixture(scope="module")
def planted_report(drift_pair, tmp_path_factory):
    """``returnrisk monitor --json`` on the planted shop (logged on its model's run) and its output folder."""
    out = tmp_path_factory.mktemp("planted_report")
    return _monitor_json(drift_pair["planted"], out), out


@pytest.mark.slow
def test_monitor_recommends_retraining_and_names_the_planted_drift(planted_report):
    report, tmp_path = planted_report
    assert report["verdict"] == "retrain_recommended"
    jeans = [c for c in report["crossed"] if c["subject"] == "category 'jeans'"]
    assert jeans and jeans[0]["metric"] == "segment_gap" and jeans[0]["level"] == "retrain_recommended"
    assert jeans[0]["threshold"] == 0.10 and jeans[0]["value"] > 0.15
    assert any("category 'jeans'" in reason and "more returns than predicted" in reason for reason in report["reasons"])
    top = max((s for s in report["segments"] if s["kind"] == "category"), key=lambda s: s["z"])
    assert top["name"] == "jeans" and top["observed"] - top["predicted"] > 0.15
    # the report: the verdict and the charts, offline
    html = (tmp_path / "report" / "report.html").read_text()
    assert 'data-verdict="retrain_recommended"' in html and "category &#39;jeans&#39;" in html
    assert html.count("<svg") >= 5 and "<script" not in html and "http" not in html.split("</style>")[0]
    assert json.loads((tmp_path / "report" / "report.json").read_text())["verdict"] == "retrain_recommended"


@pytest.mark.slow
def test_monitor_says_healthy_without_the_drift_and_logs_on_the_run(drift_pair, tmp_path):
    from returnrisk.tracking import Tracker

    entry = drift_pair["plain"]
    report = _monitor_json(entry, tmp_path)
    assert report["verdict"] == "healthy", report["reasons"]
    assert report["reasons"] == [] and report["crossed"] == []
    period, perf = report["period"], report["performance"]
    assert period["lines"] > period["matured_lines"] > 1000
    assert perf["auc"] > 0.6 and perf["validation_auc"] > 0.6 and 0 <= perf["ece"] < 0.05
    assert {row["risk_band"] for row in report["by_band"]} == {"low", "medium", "high"}
    weeks = report["by_week"]
    assert len(weeks) >= 12 and sum(w["lines"] for w in weeks) == period["lines"]
    assert any(w["observed"] is None for w in weeks) and any(w["observed"] is not None for w in weeks)
    assert set(report["unknown"]) == {"product", "customer", "size"}
    assert all(0 <= u["share"] <= 1 and 0 <= u["reference"] <= 1 for u in report["unknown"].values())
    drift = {f["feature"]: f for f in report["feature_drift"]}
    assert drift["month"]["ignored"] and drift["month"]["psi"] > 1      # after the as-of date, other months
    assert all(f["psi"] < 0.25 for f in report["feature_drift"] if not f["ignored"])
    # a customer's features are compared where the customer is known (unknown ones are counted apart)
    assert drift["customer_rate"]["rows_with"] == "customer"
    assert drift["customer_rate"]["rows"] == round(period["lines"] * (1 - report["unknown"]["customer"]["share"]))
    assert report["prediction_drift"]["psi"] < 0.25
    # logged on the champion's run: metrics at the step "days since the as-of date", the reports
    client = Tracker(entry["uri"]).client
    run = client.get_run(entry["run_id"])
    assert run.data.metrics["monitor_auc"] == pytest.approx(perf["auc"])
    assert run.data.tags["returnrisk.monitor.verdict"] == "healthy"
    history = client.get_metric_history(entry["run_id"], "monitor_ece")
    assert history[-1].step == (pd.Timestamp(period["now"]) - pd.Timestamp(period["as_of"])).days
    folders = [a.path for a in client.list_artifacts(entry["run_id"], "monitoring")]
    files = {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(entry["run_id"], folders[-1])}
    assert files == {"report.html", "report.json"}
    # what the dashboard and the gauges will read back
    from returnrisk.monitoring import latest_report, report_metrics

    tracker = Tracker(entry["uri"])
    logged = latest_report(tracker, entry["run_id"])
    assert logged["verdict"] == "healthy" and logged["performance"]["auc"] == pytest.approx(perf["auc"])
    gauges = report_metrics(logged)
    assert gauges["monitor_verdict_level"] == 0 and gauges["monitor_lines"] == period["lines"]
    assert gauges["monitor_ece"] == pytest.approx(run.data.metrics["monitor_ece"])


@pytest.mark.slow
def test_monitor_bad_input_is_a_clear_error(drift_pair, tmp_path):
    entry = drift_pair["plain"]
    proc = run_cli("monitor", "--data", str(tmp_path / "nowhere"), "--tracking-uri", entry["uri"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "nowhere" in proc.stderr
    proc = run_cli("monitor", "--model", "models:/returnrisk/42", "--tracking-uri", entry["uri"])
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr


def test_monitor_needs_lines_after_the_as_of_date(trained):
    """The session model is trained on all the data: nothing has happened since."""
    from returnrisk.data.loader import load_shop
    from returnrisk.errors import InputError
    from returnrisk.monitoring import monitor

    with pytest.raises(InputError, match="no order line after the model's as-of date"):
        monitor(trained.bundle(), load_shop(trained.data))


# ---- the service: gauges on /metrics, the dashboard's model page ------------------------------------
KEY = {"Authorization": "Bearer merchant-key"}


def _service(tracking_uri: str, tmp_path: Path, loader=None):
    from returnrisk.serving import Settings, create_app

    settings = Settings(_env_file=None, tracking_uri=tracking_uri, merchant_api_keys="merchant-key",
                        database_url=f"sqlite:///{tmp_path / 'service.db'}")
    return create_app(settings, loader=loader)


def _gauges(text: str) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.mark.slow
def test_metrics_gauges_and_model_page_show_the_last_monitoring_report(drift_pair, planted_report, tmp_path):
    """The service serves the planted shop's champion, monitored by ``returnrisk monitor``: its verdict and
    figures are gauges on /metrics, and the dashboard's model page shows predicted vs observed by week
    and the drift table."""
    from fastapi.testclient import TestClient

    report, _ = planted_report
    with TestClient(_service(drift_pair["planted"]["uri"], tmp_path)) as client:
        gauges = _gauges(client.get("/metrics").text)
        page = client.get("/dashboard/model", headers=KEY)
    assert gauges[("returnrisk_monitor_report_available", ())] == 1
    assert gauges[("returnrisk_monitor_verdict", (("verdict", "retrain_recommended"),))] == 1
    assert gauges[("returnrisk_monitor_verdict", (("verdict", "healthy"),))] == 0
    assert gauges[("returnrisk_monitor_verdict", (("verdict", "degraded"),))] == 0
    assert gauges[("returnrisk_monitor_verdict_level", ())] == 2
    assert gauges[("returnrisk_monitor_checks_crossed", ())] == len(report["crossed"]) >= 1
    perf = report["performance"]
    assert gauges[("returnrisk_monitor_auc", ())] == pytest.approx(perf["auc"])
    assert gauges[("returnrisk_monitor_ece", ())] == pytest.approx(perf["ece"])
    assert gauges[("returnrisk_monitor_lines", ())] == report["period"]["lines"]
    assert gauges[("returnrisk_monitor_prediction_psi", ())] == pytest.approx(report["prediction_drift"]["psi"])
    assert gauges[("returnrisk_monitor_generated_timestamp_seconds", ())] == pytest.approx(
        pd.Timestamp(report["generated_at"]).timestamp())
    assert gauges[("returnrisk_model_version", ())] == float(drift_pair["planted"]["version"])  # beside the others

    assert page.status_code == 200
    html = page.text
    assert 'data-verdict="retrain_recommended"' in html and "retrain recommended" in html
    assert "category &#39;jeans&#39;" in html                       # the reason, named
    chart = html.split('id="predicted-vs-observed"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<polyline") == 2                            # predicted and observed
    assert chart.count("<circle") == len(report["by_week"]) + sum(w["observed"] is not None for w in report["by_week"])
    table = html.split('id="drift-table"', 1)[1].split("</table>", 1)[0]
    rows = table.count("<tr data-feature=")
    assert rows == min(12, len(report["feature_drift"]))
    top = report["feature_drift"][0]
    assert f'data-feature="{top["feature"]}"' in table and f"{top['psi']:.3f}" in table
    # in French too
    with TestClient(_service(drift_pair["planted"]["uri"], tmp_path)) as client:
        french = client.get("/dashboard/model?lang=fr", headers=KEY).text
    assert "réentraînement recommandé" in french and "Dérive des variables" in french


@pytest.mark.slow
def test_a_model_never_monitored_has_no_gauges_and_says_how_to_monitor(trained, tmp_path):
    from fastapi.testclient import TestClient

    with TestClient(_service(trained.tracking_uri, tmp_path)) as client:
        gauges = _gauges(client.get("/metrics").text)
        html = client.get("/dashboard/model", headers=KEY).text
    assert gauges[("returnrisk_monitor_report_available", ())] == 0
    assert not any(name.startswith("returnrisk_monitor_") and name != "returnrisk_monitor_report_available"
                   for name, _ in gauges)
    assert "has not been monitored yet" in html and "returnrisk monitor" in html and 'id="drift-table"' not in html


def test_gauges_read_the_run_once_per_refresh_and_survive_a_failing_store():
    from returnrisk.serving.monitor_gauges import MonitorGauges

    calls, now = [], [0.0]
    reports = {"run-1": {"verdict": "degraded", "crossed": [{}], "period": {"lines": 10, "matured_lines": 4},
                         "performance": {"auc": 0.7, "ece": float("nan")}, "generated_at": "2026-01-02T00:00:00+00:00"}}

    def reader(run_id):
        calls.append(run_id)
        if run_id == "broken":
            raise OSError("store unreachable")
        return reports.get(run_id)

    info = {"run_id": "run-1"}
    gauges = MonitorGauges(lambda: info, reader, refresh_seconds=60, clock=lambda: now[0])
    samples = {f.name: [s.value for s in f.samples] for f in gauges.collect()}
    assert samples["returnrisk_monitor_verdict"] == [0.0, 1.0, 0.0]       # healthy, degraded, retrain_recommended
    assert samples["returnrisk_monitor_verdict_level"] == [1.0] and samples["returnrisk_monitor_auc"] == [0.7]
    assert "returnrisk_monitor_ece" not in samples                         # not a number: no gauge, not NaN
    assert samples["returnrisk_monitor_generated_timestamp_seconds"] == [pd.Timestamp("2026-01-02", tz="UTC").timestamp()]
    gauges.report()
    now[0] = 59.0
    gauges.report()
    assert calls == ["run-1"]                                              # cached within the refresh period
    now[0] = 61.0
    gauges.report()
    assert calls == ["run-1", "run-1"]
    reports["run-1"] = {**reports["run-1"], "verdict": "healthy"}
    now[0] = 200.0
    assert gauges.report()["verdict"] == "healthy"                          # a new report is picked up
    info["run_id"] = "broken"
    assert gauges.report() is None                                         # unreadable: logged, no figures
    info.clear()
    assert gauges.report() is None
    assert [f.name for f in gauges.collect()] == ["returnrisk_monitor_report_available"]


# ---- thresholds are settings --------------------------------------------------------------------
def test_thresholds_are_settings_read_by_the_entry_point_only(monkeypatch, tmp_path):
    import os

    from returnrisk.config import DEFAULT_MONITOR_SETTINGS, MonitorSettings, read_settings

    for name in [n for n in os.environ if n.startswith("RETURNRISK_MONITOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)                                   # no .env
    assert DEFAULT_MONITOR_SETTINGS == read_settings(MonitorSettings)   # the documented defaults
    assert (DEFAULT_MONITOR_SETTINGS.ece_degraded, DEFAULT_MONITOR_SETTINGS.ece_retrain,
            DEFAULT_MONITOR_SETTINGS.segment_gap_retrain, DEFAULT_MONITOR_SETTINGS.feature_psi_degraded) == \
        (0.02, 0.035, 0.10, 0.25)
    monkeypatch.setenv("RETURNRISK_MONITOR_SEGMENT_GAP_RETRAIN", "0.2")
    monkeypatch.setenv("RETURNRISK_MONITOR_IGNORED_FEATURES", '["month"]')
    settings = read_settings(MonitorSettings)
    assert settings.segment_gap_retrain == 0.2 and settings.ignored_features == ("month",)
    assert DEFAULT_MONITOR_SETTINGS.segment_gap_retrain == 0.10   # the library default never reads the environment
    # a bad value: exit 2 before any model is loaded, naming the variable, the value and the fix
    env = {**os.environ, "RETURNRISK_MONITOR_ECE_RETRAIN": "high"}
    proc = subprocess.run([*CLI, "monitor", "--tracking-uri", f"sqlite:///{tmp_path}/none.db"], capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "RETURNRISK_MONITOR_ECE_RETRAIN='high' is invalid" in proc.stderr and "docs/monitoring.md" in proc.stderr
