"""``returnrisk kpis``, ``returnrisk forecast`` and ``returnrisk export-returns`` from the command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import write_shop
from returnrisk.cli import main
from returnrisk.data.contract import RETURNS
from returnrisk.operations.store import ReturnEvent, ReturnStore


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_kpis_json_is_the_last_line_and_the_table_goes_to_stderr(tiny_shop, capsys):
    code, out, err = run(capsys, "kpis", "--data", str(tiny_shop), "--no-model", "--by", "category", "--json")
    assert code == 0
    assert len(out.strip().splitlines()) == 1
    report = last_json(out)
    assert report["overall"]["return_rate_units"] == 0.5 and report["overall"]["provisional"] is True
    assert [g["key"] for g in report["groups"]] == ["dresses", "bags", "jeans"]
    assert report["model"]["available"] is False and "--no-model" in report["model"]["note"]
    assert "return rate 60.0% of lines, 50.0% of units" in err and "provisional" in err


def test_kpis_options_are_checked(tiny_shop, capsys):
    code, _, err = run(capsys, "kpis", "--data", str(tiny_shop), "--no-model", "--by", "year")
    assert code == 2 and "--by 'year' is not a breakdown: use one of week, month" in err
    code, _, err = run(capsys, "kpis", "--data", str(tiny_shop), "--no-model", "--from", "March")
    assert code == 2 and "--from 'March' is not an ISO 8601 timestamp" in err
    code, _, err = run(capsys, "kpis", "--data", str(tiny_shop), "--no-model", "--from", "2025-03-05", "--to",
                       "2025-03-01")
    assert code == 2 and "the period is empty" in err


def test_kpis_settings_options_and_period(tiny_shop, capsys):
    code, out, _ = run(capsys, "kpis", "--data", str(tiny_shop), "--no-model", "--refund-target-days", "1.7",
                       "--cost-per-return", "4", "--to", "2025-03-03", "--json")
    report = last_json(out)
    assert code == 0 and report["to"] == "2025-03-04T00:00:00Z"  # a date includes the whole day
    assert report["refund_target_days"] == 1.7 and report["return_cost_per_return"] == 4.0
    assert report["return_cost_per_unit"] == 0.0   # per-unit costs are opt-in
    o = report["overall"]
    assert (o["lines"], o["returns"], o["refund_within_target"], o["return_cost"]) == (4, 2, 0.5, 11.5)
    code, out, _ = run(capsys, "kpis", "--data", str(tiny_shop), "--no-model", "--cost-per-return", "4",
                       "--cost-per-unit", "1", "--to", "2025-03-03", "--json")
    assert last_json(out)["overall"]["return_cost"] == 12.5   # 7.50 given + (4 + 1 × 1 unit)


def test_kpis_without_a_champion_says_so_and_still_marks_provisional(tiny_shop, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'empty-mlflow.db'}"
    code, out, _ = run(capsys, "kpis", "--data", str(tiny_shop), "--tracking-uri", uri, "--json")
    report = last_json(out)
    assert code == 0 and report["model"]["available"] is False
    assert "no champion model" in report["model"]["note"]
    assert report["overall"]["provisional"] is True and report["overall"]["expected_final_rate_units"] is None


def test_forecast_json_backtest_in_one_command(trained, capsys):
    code, out, err = run(capsys, "forecast", "--tracking-uri", trained.tracking_uri, "--as-of", "2026-09-10",
                         "--days", "5", "--json")
    assert code == 0
    payload = last_json(out)
    assert list(payload) == ["as_of", "days", "total", "staff_hours"]
    assert payload["as_of"] == "2026-09-10T00:00:00Z"
    assert [d["date"] for d in payload["days"]] == [f"2026-09-{d}" for d in range(10, 15)]
    assert all(d["low"] <= d["expected"] <= d["high"] for d in payload["days"])
    assert "not a fair backtest" in err  # the session model was trained on all the data
    code, _, err = run(capsys, "forecast", "--tracking-uri", trained.tracking_uri, "--as-of", "2020-01-01")
    assert code == 2 and "no order before 2020-01-01" in err
    code, _, err = run(capsys, "forecast", "--tracking-uri", trained.tracking_uri, "--as-of", "soon")
    assert code == 2 and "--as-of 'soon' is not an ISO 8601 timestamp" in err


def test_export_returns_command(tmp_path, capsys):
    shop_dir = write_shop(tmp_path / "shop")
    url = f"sqlite:///{tmp_path / 'returns.db'}"
    store = ReturnStore(url)
    store.record(ReturnEvent("L4", pd.Timestamp("2025-03-10T08:00:00Z"), "email", reason_code="damaged"))
    store.dispose()
    code, out, err = run(capsys, "export-returns", "--db", url, "--out", str(tmp_path / "only"), "--json")
    assert code == 0 and last_json(out)["written"] == 1
    only = pd.read_csv(tmp_path / "only" / "returns.csv", dtype=str, keep_default_na=False)
    assert list(only.columns) == RETURNS.names and only["line_id"].tolist() == ["L4"]
    code, out, err = run(capsys, "export-returns", "--db", url, "--out", str(tmp_path / "merged"),
                         "--merge-with", str(shop_dir))
    assert code == 0 and "3 shop returns (0 replaced by stored ones) + 1 stored = 4 returns" in out
    assert "returnrisk train --data" in out
    merged = pd.read_csv(tmp_path / "merged" / "returns.csv", dtype=str, keep_default_na=False)
    assert merged["line_id"].tolist() == ["L2", "L3", "L5", "L4"]
    code, _, err = run(capsys, "export-returns", "--db", "nonsense", "--out", str(tmp_path / "x"))
    assert code == 2 and "--db: returns database URL 'nonsense' is not a SQLAlchemy URL" in err


@pytest.mark.parametrize("argv", [["kpis", "--help"], ["forecast", "--help"], ["export-returns", "--help"]])
def test_commands_are_registered(argv, capsys):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "--json" in out
