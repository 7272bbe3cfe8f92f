"""Issue 13 (data side): a shop shaped like a real one — unsized, no reasons, no refund dates, wholesale
quantities, partial returns, postage lines, a weekday-only return desk — and hostile inputs.

Each test names the defect of issue 13 it reproduces; every one failed before the change.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import returnrisk.operations.forecast as forecast_module
import returnrisk.operations.kpis as kpis_module
from conftest import ORDER_LINES, PRODUCTS, RETURNS, write_shop
from returnrisk.cli import main
from returnrisk.data.loader import load_shop
from returnrisk.data.merchandise import non_merchandise_products
from returnrisk.data.problems import DataError
from returnrisk.demo.realshop import CANCELLED_GIANT_QUANTITY, build_real_shop
from returnrisk.operations.forecast import forecast_returns, holiday_closures
from returnrisk.operations.kpis import compute_kpis
from returnrisk.strict_json import dumps

ROOT = Path(__file__).resolve().parents[1]


def _refuse(constant: str):
    raise ValueError(f"not strict JSON: bare {constant}")


def strict_json(stdout: str) -> dict:
    """The whole of stdout is one strict JSON document (no NaN/Infinity, nothing printed before it)."""
    assert stdout.count("\n") == 1 and stdout.endswith("\n"), f"stdout is not one JSON line: {stdout[:300]!r}"
    return json.loads(stdout, parse_constant=_refuse)


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def real_shop(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("real_shop")
    build_real_shop(out, n_lines=3000, seed=0)
    return out


@pytest.fixture
def real_copy(real_shop, tmp_path) -> Path:
    target = tmp_path / "real"
    shutil.copytree(real_shop, target, ignore=shutil.ignore_patterns(".returnrisk"))
    return target


# ---- the fixture shop itself ----------------------------------------------------------------------
def test_real_shop_fixture_has_the_traits_of_a_real_shop(real_shop):
    manifest = json.loads((real_shop / "truth" / "manifest.json").read_text())
    lines = pd.read_csv(real_shop / "order_lines.csv", dtype=str)
    returns = pd.read_csv(real_shop / "returns.csv", dtype=str)
    products = pd.read_csv(real_shop / "products.csv", dtype=str)
    assert "size" not in lines.columns                                 # unsized catalogue
    assert not {"reason_code", "reason_text", "refunded_at", "return_cost"} & set(returns.columns)
    quantity = lines["quantity"].astype(int)
    assert quantity.max() == CANCELLED_GIANT_QUANTITY and ((quantity >= 12) & (quantity <= 10_000)).sum() > 50
    assert returns["line_id"].duplicated().sum() > 0                   # lines returned in several parts
    returned = returns.groupby("line_id")["quantity"].sum()
    ordered = lines.set_index("line_id")["quantity"].astype(int)
    assert (returned.astype(int) < ordered[returned.index]).sum() > 10  # partial returns
    assert lines["product_id"].isin(["SHIP-STD", "SHIP-EXP", "FEE-PAY", "GIFT-WRAP"]).sum() > 1000
    assert products["category"].nunique() > 150
    at = pd.to_datetime(returns["returned_at"], utc=True)
    assert (at.dt.dayofweek < 5).all()                                 # a weekday-only return desk
    assert not at.dt.strftime("%Y-%m-%d").isin(manifest["holidays"]).any()
    assert {"EUR", "CHF"} <= set(lines["currency"]) and lines["order_number"].str.startswith("#").all()


# ---- defect 2: every --json output is strict JSON, alone on stdout ------------------------------------
def test_strict_json_writer_turns_every_non_finite_number_into_null():
    payload = {"a": float("nan"), "b": [np.float32("inf"), -np.inf, 1.5], "c": {"d": np.int64(3), "e": pd.NA},
               "t": pd.Timestamp("2026-01-01", tz="UTC"), "n": np.array([1.0, np.nan])}
    assert json.loads(dumps(payload), parse_constant=_refuse) == {
        "a": None, "b": [None, None, 1.5], "c": {"d": 3, "e": None}, "t": "2026-01-01T00:00:00+00:00",
        "n": [1.0, None]}


def test_validate_json_is_alone_on_stdout_with_capabilities(real_shop, capsys, tmp_path):
    code, out, err = run(capsys, "validate", "--data", str(real_shop), "--json", "--quarantine", str(tmp_path / "q"))
    assert code == 0, err
    report = strict_json(out)
    assert "returnrisk validate" in err and "rows read" in err           # the human report is on stderr
    assert report["valid"] is True
    broken = tmp_path / "broken"
    broken.mkdir()
    code, out, err = run(capsys, "validate", "--data", str(broken), "--json")
    assert code == 2 and strict_json(out)["valid"] is False


@pytest.mark.slow
def test_train_json_is_strict_when_a_reason_never_occurs_and_bad_timestamps_do_not_crash(real_copy, capsys,
                                                                                          tmp_path):
    """Defect 2 (NaN per-reason AUCs) and defect 11 (year 9999 / 0001 / 2262-04-12 / 1677 crash train)."""
    lines = (real_copy / "order_lines.csv").read_text().splitlines()
    header = lines[0].split(",")
    extra = []
    for i, when in enumerate(["9999-01-01", "0001-01-01T00:00:00Z", "2262-04-12", "1677-01-01"]):
        row = dict(zip(header, lines[1].split(",")))
        row.update(line_id=f"BAD{i}", ordered_at=when)
        extra.append(",".join(row[h] for h in header))
    (real_copy / "order_lines.csv").write_text("\n".join(lines + extra) + "\n")
    returns = (real_copy / "returns.csv").read_text()
    (real_copy / "returns.csv").write_text(returns + "R9,100001,1,9999-12-31\n")
    code, out, err = run(capsys, "train", "--data", str(real_copy), "--tracking-uri",
                         f"sqlite:///{tmp_path}/mlflow.db", "--params", str(ROOT / "tests" / "fast_params.yaml"),
                         "--json")
    assert code == 0, err[-3000:]
    result = strict_json(out)
    metrics = result["metrics"]
    assert metrics["val_auc_too_small"] is None          # no reason ever recorded: undefined, not NaN
    assert metrics["val_auc"] is not None and 0.0 <= metrics["val_auc"] <= 1.0
    assert "Traceback" not in err and "OutOfBoundsDatetime" not in err
    quarantine = pd.read_csv(real_copy / ".returnrisk" / "quarantine" / "order_lines.csv", dtype=str)
    assert sorted(quarantine["line_id"]) == ["BAD0", "BAD1", "BAD2", "BAD3"]
    assert quarantine["_reason"].str.contains("out_of_range").all()


def test_ops_and_model_commands_json_is_strict_and_alone(trained, capsys, tmp_path):
    uri = trained.tracking_uri
    commands = [
        ("kpis", "--data", str(trained.data), "--tracking-uri", uri, "--by", "week", "--json"),
        ("forecast", "--data", str(trained.data), "--tracking-uri", uri, "--days", "3", "--json"),
        ("fixes", "--data", str(trained.data), "--tracking-uri", uri, "--output", str(tmp_path / "f.json"),
         "--json"),
        ("export-returns", "--out", str(tmp_path / "exp"), "--db", f"sqlite:///{tmp_path}/r.db", "--json"),
    ]
    products = pd.read_csv(trained.data / "order_lines.csv", dtype=str, nrows=2000)
    sized = products[products["size"].notna()]["product_id"].iloc[0]
    commands.append(("size-advice", "--product", sized, "--tracking-uri", uri, "--json"))
    texts = tmp_path / "texts.csv"
    texts.write_text("reason_text\ntrop petit\nthe colour is not like the photo\n")
    commands.append(("reasons", "--input", str(texts), "--output", str(tmp_path / "out.csv"), "--json"))
    for argv in commands:
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv[0], err[-2000:])
        assert isinstance(strict_json(out), dict), argv[0]


# ---- defect 3: money KPIs per return, outlier lines guarded ------------------------------------------
def test_kpis_cost_is_per_return_and_outlier_lines_do_not_swamp_unit_rates(real_shop, tmp_path):
    shop = load_shop(real_shop, quarantine_dir=tmp_path / "q")
    report = compute_kpis(shop).to_dict()
    o = report["overall"]
    # the default cost is 12 per return (a parcel), not 12 × quantity: a cancelled 80,995-unit line costs 12
    assert report["return_cost_per_return"] == 12.0 and report["return_cost_per_unit"] == 0.0
    for currency in o["by_currency"].values():
        assert currency["return_cost_per_return"] == 12.0
    assert sum(c["return_cost"] for c in o["by_currency"].values()) == pytest.approx(12.0 * o["return_events"])
    # the outlier line is out of the units-weighted rate, reported, and kept in the rate by line
    assert o["outlier_lines"] == 1 and o["outlier_units"] == CANCELLED_GIANT_QUANTITY
    frame = kpis_module.line_outcomes(shop, end_of_data=pd.Timestamp(report["data_end"]), window_days=30,
                                      refund_target_days=5)
    normal = ~frame["outlier"]
    assert o["return_rate_units"] == pytest.approx(frame["returned_units"][normal].sum()
                                                   / frame["quantity"][normal].sum(), abs=1e-4)
    assert o["return_rate_lines"] == pytest.approx(frame["returned"].mean(), abs=1e-4)
    assert o["return_rate_units"] < 0.2   # with the giant cancelled line it would be above 0.3
    weeks = compute_kpis(shop, by="week").to_dict()["volumes_per_week"]
    assert max(w["returns_received"] for w in weeks) < 40


def test_validate_flags_outlier_quantities(real_shop, capsys, tmp_path):
    code, out, _ = run(capsys, "validate", "--data", str(real_shop), "--json", "--quarantine", str(tmp_path / "q"))
    report = strict_json(out)
    (outlier,) = [w for w in report["warnings"] if w["rule"] == "outlier_quantity"]
    assert outlier["count"] == 1 and "80,995 units" in outlier["examples"][0]["value"]
    assert report["outliers"]["lines"] == 1


# ---- defect 4: expected final never below what came back ------------------------------------------
def test_expected_final_rate_is_never_below_the_observed_rate(tiny_shop, monkeypatch):
    """A model that expects almost nothing (P = 0.01) on a week where half the units already came back."""
    def score(bundle, lines, now=None):
        n = len(lines)
        out = {"line_id": lines["line_id"].to_numpy(), "p_return": np.full(n, 0.01)}
        for g in ("too_small", "too_large", "looks_different", "not_as_described", "quality", "other"):
            out[f"p_{g}"] = np.full(n, 0.01 / 6)
        return pd.DataFrame(out)

    monkeypatch.setattr(kpis_module, "score_frame", score)
    bundle = SimpleNamespace(snapshot=SimpleNamespace(window_days=30), meta={"as_of": "2025-03-16T00:00:00Z"})
    shop = load_shop(tiny_shop)
    report = compute_kpis(shop, bundle=bundle)
    o = report.overall
    assert o["provisional"] and o["return_rate_units"] == 0.5
    assert o["model_prior_rate_units"] == pytest.approx(0.01)            # the prior alone is below what came back
    assert o["expected_final_rate_units"] >= o["return_rate_units"]
    assert o["expected_final_rate_units"] == pytest.approx(0.5 + 0.01 * 3 / 6, abs=1e-4)
    for g in compute_kpis(shop, bundle=bundle, by="reason").groups:
        assert g["expected_final_rate_units"] >= g["return_rate_units"]


# ---- defect 5: no refund data is not 0 % -----------------------------------------------------------
def test_no_refund_dates_means_no_refund_kpi_not_zero(real_shop, capsys, tmp_path):
    shop = load_shop(real_shop, quarantine_dir=tmp_path / "q")
    report = compute_kpis(shop, by="week").to_dict()
    assert report["refund_data"] is False
    assert report["overall"]["refund_within_target"] is None and report["overall"]["refunds_late"] is None
    assert all(g["refund_within_target"] is None for g in report["groups"])
    code, out, err = run(capsys, "kpis", "--data", str(real_shop), "--no-model", "--quarantine", str(tmp_path / "q"))
    assert code == 0 and "no refund data" in out and "0.0%" not in out.split("refunds")[1].split("\n")[0]


# ---- defect 6: partial returns ------------------------------------------------------------------
PARTIAL_LINES = ORDER_LINES + "L6,O5,C4,P2,W32,5,69.00,2025-03-05T12:00:00Z\n"
PARTIAL_RETURNS = ("line_id,returned_at,reason_code,reason_text,refunded_at,return_cost,quantity,return_id\n"
                   "L2,2025-03-09,too_large,,2025-03-11,7.50,,R1\n"
                   "L6,2025-03-08,,,,,2,R2\n"
                   "L6,2025-03-12,too_small,,,,2,R3\n"
                   "L6,2025-03-12,too_small,,,,2,R3\n"      # the same return twice
                   "L6,2025-03-14,,,,,2,R4\n"               # 2 + 2 + 2 > 5 ordered
                   "L5,2025-03-15,changed_mind,,,,,R5\n")


def test_partial_returns_in_several_parts_and_over_returns_quarantined(tmp_path):
    folder = write_shop(tmp_path / "s", lines=PARTIAL_LINES, returns=PARTIAL_RETURNS)
    shop = load_shop(folder)
    rules = {p.rule: p for p in shop.problems}
    assert rules["duplicate_return"].count == 1 and rules["duplicate_return"].rows == [4]
    assert rules["over_returned"].count == 1 and rules["over_returned"].rows == [5]
    assert rules["over_returned"].values == ["line L6: 2 returned after 4, 5 ordered"]
    quarantine = pd.read_csv(folder / ".returnrisk" / "quarantine" / "returns.csv", dtype=str)
    assert sorted(quarantine["_row"]) == ["4", "5"]
    # one row per returned line: returned when its first part came back, units summed, first reason
    line = shop.returns.set_index("line_id").loc["L6"]
    assert line["returned_at"] == pd.Timestamp("2025-03-08", tz="UTC")
    assert (line["quantity"], line["n_parts"], line["return_id"]) == (4, 2, "R2")
    assert line["reason_code"] == "too_small"
    assert shop.returns.set_index("line_id").loc["L2", "quantity"] == 1   # default: the whole line
    assert len(shop.return_events) == 4
    o = compute_kpis(shop).to_dict()["overall"]
    assert (o["returns"], o["return_events"], o["returned_units"]) == (3, 4, 6.0)   # L2 1 + L6 4 + L5 1
    assert o["return_rate_units"] == round(6 / 11, 4)
    assert o["return_cost"] == 7.5 + 3 * 12.0
    # a return with no reason stays valid: the line's reason comes from the part that has one
    past = shop.truncated(pd.Timestamp("2025-03-10", tz="UTC"))
    assert past.returns.set_index("line_id").loc["L6", "quantity"] == 2


# ---- defect 7: what the data gives, and what deserves a look ----------------------------------------
def test_validate_reports_capabilities_and_warnings_of_a_real_shop(real_shop, capsys, tmp_path):
    code, out, err = run(capsys, "validate", "--data", str(real_shop), "--json", "--quarantine", str(tmp_path / "q"))
    report = strict_json(out)
    caps = report["capabilities"]
    assert {k: caps[k] for k in ("size_advice", "reason_levers", "refund_kpis", "cost_kpis", "customer_history")} \
        == {"size_advice": False, "reason_levers": False, "refund_kpis": False, "cost_kpis": False,
            "customer_history": True}
    assert set(caps["explanations"]) == {"size_advice", "reason_levers", "refund_kpis", "cost_kpis"}
    assert "order_lines.size" in caps["explanations"]["size_advice"]
    assert "refunded_at" in caps["explanations"]["refund_kpis"]
    rules = {w["rule"] for w in report["warnings"]}
    assert {"category_not_a_type", "not_merchandise", "late_return", "outlier_quantity"} <= rules
    assert "no problems found" not in err and "✗ no size advice" in err
    assert report["summary"]["rows"]["order_lines"]["excluded"] > 1000


def test_capabilities_of_the_demo_shop_are_all_on(demo_small, capsys, tmp_path):
    code, out, _ = run(capsys, "validate", "--data", str(demo_small), "--json", "--quarantine", str(tmp_path / "q"))
    report = strict_json(out)
    assert code == 0 and report["capabilities"]["explanations"] == {}
    assert all(report["capabilities"][k] for k in ("size_advice", "reason_levers", "refund_kpis", "cost_kpis",
                                                     "customer_history"))
    assert report["warnings"] == []


def test_non_merchandise_lines_are_set_aside_and_excluded_from_rates(real_shop, tmp_path):
    shop = load_shop(real_shop, quarantine_dir=tmp_path / "q")
    assert not shop.order_lines["product_id"].isin(["SHIP-STD", "SHIP-EXP", "FEE-PAY", "GIFT-WRAP"]).any()
    assert "SHIP-STD" not in set(shop.products["product_id"])
    assert shop.merchandise.by_kind() == {"fee": 1, "gift_wrap": 1, "shipping": 2}
    manifest = json.loads((real_shop / "truth" / "manifest.json").read_text())
    assert len(shop.order_lines) == manifest["n_merchandise_lines"]
    assert compute_kpis(shop).overall["lines"] == manifest["n_merchandise_lines"]
    assert shop.tables["order_lines"].rows_quarantined == 0   # set aside, not rejected


def test_one_rule_set_for_non_merchandise_with_platform_flags():
    products = pd.DataFrame({
        "product_id": ["P1", "SHIPPING", "P3", "P4", "P5", "P6", "P7", "P8"],
        "title": ["Robe Lune", "Standard shipping", "Frais de port", None, "Pointed tip boots", "Tip",
                  "Carte cadeau 50 €", "Sac de voyage"],
        "category": ["dresses", "x", "y", "Gift wrap", "shoes", "z", "w", "bags"],
        "description": ["free shipping and gift wrap"] + [""] * 7})
    found = non_merchandise_products(products, {"P8": "gift_card"}).set_index("product_id")
    assert found["kind"].to_dict() == {"SHIPPING": "shipping", "P3": "shipping", "P4": "gift_wrap", "P6": "tip",
                                       "P7": "gift_card", "P8": "gift_card"}
    assert found.loc["P8", "source"] == "platform" and found.loc["P3", "source"] == "title"


def test_returns_more_than_90_days_after_the_order_are_kept_with_a_warning(tmp_path):
    returns = RETURNS.replace("L5,2025-03-15", "L5,2025-07-15")
    shop = load_shop(write_shop(tmp_path / "s", returns=returns))
    (late,) = [w for w in shop.warnings if w.rule == "late_return"]
    assert late.count == 1 and late.values == ["132 days after the order"]
    assert "L5" in set(shop.returns["line_id"]) and shop.problems == []


# ---- defect 10: the return desk's calendar ----------------------------------------------------------
@pytest.fixture(scope="session")
def busy_real_shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("busy_real_shop")
    build_real_shop(out, n_lines=40_000, seed=1)
    return load_shop(out, quarantine_dir=out / ".q")


def test_forecast_learns_weekday_closures_and_holidays_from_the_history(busy_real_shop, monkeypatch):
    """The desk registers returns Monday to Friday, never on public holidays: 15 August 2025 (a Friday)
    was closed in 2024 too, so it is forecast closed; weekends get nothing."""
    def score(bundle, lines, now=None):
        return pd.DataFrame({"line_id": lines["line_id"].to_numpy(), "p_return": np.full(len(lines), 0.1)})

    monkeypatch.setattr(forecast_module, "score_frame", score)
    bundle = SimpleNamespace(snapshot=SimpleNamespace(window_days=30), meta={})
    as_of = pd.Timestamp("2025-08-04", tz="UTC")
    result = forecast_returns(busy_real_shop, bundle, as_of=as_of, days=14)
    by_day = {f"{d.date:%Y-%m-%d}": d for d in result.days}
    for closed in ("2025-08-09", "2025-08-10", "2025-08-15", "2025-08-16", "2025-08-17"):
        assert by_day[closed].expected == 0.0 and by_day[closed].high == 0.0, closed
    assert result.details["closed_weekdays"] == [5, 6]
    assert result.details["holiday_closures"] == ["2025-08-15"]
    open_days = [d for d in result.days if d.expected > 0]
    assert len(open_days) == 9
    # without the calendar, returns are forecast on closed days (the defect)
    plain = forecast_returns(busy_real_shop, bundle, as_of=as_of, days=14, weekday_arrivals=False)
    assert {f"{d.date:%Y-%m-%d}": d.expected for d in plain.days}["2025-08-09"] > 1.0
    # usable intervals: on open days the 90 % interval is within ± 60 % of the expected count
    for d in open_days:
        assert d.high - d.low < 1.2 * d.expected, d


def test_holiday_closures_recur_by_date_and_by_easter():
    seen = [pd.Timestamp("2024-04-01", tz="UTC"), pd.Timestamp("2024-12-25", tz="UTC")]  # Easter Monday, Christmas
    days = pd.DatetimeIndex(pd.to_datetime(["2025-04-21", "2025-04-01", "2025-12-25", "2025-12-26"], utc=True))
    assert holiday_closures(seen, days).tolist() == [True, False, True, False]


# ---- defect 11: hostile inputs: no traceback, no silent change --------------------------------------
@pytest.mark.parametrize("table,column", [("order_lines", "ordered_at"), ("returns", "returned_at"),
                                          ("returns", "refunded_at"), ("products", "created_at")])
@pytest.mark.parametrize("when", ["9999-12-31", "0001-01-01", "2262-04-12", "1677-01-01T00:00:00Z"])
def test_timestamps_out_of_range_are_quarantined_in_every_timestamp_column(tmp_path, table, column, when):
    texts = {"products": PRODUCTS, "order_lines": ORDER_LINES, "returns": RETURNS}
    frame = pd.read_csv(__import__("io").StringIO(texts[table]), dtype=str, keep_default_na=False)
    frame.loc[1, column] = when
    texts[table] = frame.to_csv(index=False)
    shop = load_shop(write_shop(tmp_path / "s", texts["products"], texts["order_lines"], texts["returns"]))
    (p,) = [p for p in shop.problems if p.rule == "out_of_range"]
    assert p.column == column and p.values == [when] and p.rows == [2]
    assert "outside the dates that can be held" in p.message


def test_validate_out_of_range_timestamp_exits_0(tmp_path, capsys):
    folder = write_shop(tmp_path / "s", lines=ORDER_LINES.replace("2025-03-03\n", "9999-01-01\n"))
    code, out, err = run(capsys, "validate", "--data", str(folder), "--json")
    assert code == 0 and strict_json(out)["problems"][0]["rule"] == "out_of_range"


def test_duplicated_header_column_exits_2_naming_it(tmp_path, capsys):
    rows = ORDER_LINES.strip().splitlines()   # every required column present, 'size' twice (was AttributeError)
    lines = "\n".join([rows[0] + ",size"] + [r + ",M" for r in rows[1:]]) + "\n"
    folder = write_shop(tmp_path / "s", lines=lines)
    with pytest.raises(DataError) as err:
        load_shop(folder)
    assert [p.rule for p in err.value.problems] == ["duplicate_column"]
    code, out, err_text = run(capsys, "validate", "--data", str(folder))
    assert code == 2
    assert "column 'size' appears 2 times in the header of order_lines.csv (columns 5 and 9)" in err_text
    assert "Traceback" not in err_text


def test_huge_quantity_is_quarantined_not_wrapped(tmp_path):
    folder = write_shop(tmp_path / "s", lines=ORDER_LINES.replace("L4,O3,C3,P3,,2,", "L4,O3,C3,P3,,99999999999999999999,"))
    shop = load_shop(folder)
    (p,) = [p for p in shop.problems if p.rule == "too_large"]
    assert p.column == "quantity" and p.values == ["99999999999999999999"]
    assert "L4" not in set(shop.order_lines["line_id"]) and (shop.order_lines["quantity"] > 0).all()


@pytest.mark.parametrize("text", ["NaN", "N/A", "#N/A", "NULL", "NA", "null", "nan"])
def test_placeholder_texts_in_number_and_id_cells_are_quarantined(tmp_path, text):
    lines = ORDER_LINES.replace("L4,O3,C3,P3,,2,89.00", f"L4,O3,C3,P3,,{text},89.00") \
        .replace("L5,O4,C2,P1", f"L5,O4,{text},P1")
    products = PRODUCTS.replace("P2,jeans,Nord,69.00", f"P2,jeans,{text},69.00")   # brand: optional text
    shop = load_shop(write_shop(tmp_path / "s", products=products, lines=lines))
    problems = {(p.rule, p.column): p for p in shop.problems}
    assert problems[("placeholder_value", "quantity")].values == [text]
    assert problems[("placeholder_value", "customer_id")].values == [text]
    assert {"L4", "L5"}.isdisjoint(shop.order_lines["line_id"])
    (warning,) = [w for w in shop.warnings if w.rule == "placeholder_read_as_missing"]
    assert warning.column == "brand" and warning.values == [text]
    assert pd.isna(shop.products.set_index("product_id").loc["P2", "brand"])


def test_semicolon_separated_file_gets_a_hint(tmp_path, capsys):
    folder = write_shop(tmp_path / "s", lines=ORDER_LINES.replace(",", ";"))
    code, _, err = run(capsys, "validate", "--data", str(folder))
    assert code == 2
    assert "order_lines.csv looks semicolon-separated" in err and "commas as separators" in err


def test_data_pointing_at_a_file_says_not_a_folder(tiny_shop, capsys):
    code, _, err = run(capsys, "validate", "--data", str(tiny_shop / "products.csv"))
    assert code == 2 and "is a file, not a folder" in err and "does not exist" not in err


def test_forecast_as_of_far_in_the_future_is_a_plain_message(trained, capsys):
    code, out, err = run(capsys, "forecast", "--tracking-uri", trained.tracking_uri, "--as-of", "9999-01-01",
                         "--json")
    assert code == 2 and out == ""
    assert "as-of 9999-01-01 is too far after the data" in err
    assert "OutOfBounds" not in err and "Traceback" not in err and "nanosecond" not in err


# ---- contract additions -------------------------------------------------------------------------
def test_optional_contract_columns_are_accepted_and_currency_codes_checked(tmp_path):
    products = PRODUCTS.replace("created_at\n", "created_at,title,url,image_url\n", 1)
    products = "\n".join(l + (",Robe,https://s/p,https://s/i.jpg" if i else "")
                         for i, l in enumerate(products.strip().splitlines())) + "\n"
    lines = ORDER_LINES.replace("ordered_at\n", "ordered_at,order_number,currency\n", 1)
    rows = lines.strip().splitlines()
    currencies = ["eur", "EUR", "CHF", "euros", ""]
    lines = "\n".join([rows[0]] + [f"{r},#{1000 + i},{c}" for i, (r, c) in enumerate(zip(rows[1:], currencies))]) + "\n"
    shop = load_shop(write_shop(tmp_path / "s", products=products, lines=lines))
    assert shop.products["title"].tolist() == ["Robe"] * 3 and shop.products["image_url"].notna().all()
    got = shop.order_lines.set_index("line_id")
    assert got.loc["L1", "currency"] == "EUR" and got.loc["L1", "order_number"] == "#1000"
    (bad,) = [p for p in shop.problems if p.column == "currency"]
    assert bad.values == ["euros"] and "L4" not in got.index
    assert pd.isna(got.loc["L5", "currency"])


def test_money_is_never_summed_across_currencies(real_shop, tmp_path):
    shop = load_shop(real_shop, quarantine_dir=tmp_path / "q")
    o = compute_kpis(shop).to_dict()["overall"]
    assert o["value"] is None and o["return_cost"] is None and set(o["by_currency"]) == {"CHF", "EUR"}
    lines = shop.order_lines
    for currency, money in o["by_currency"].items():
        mine = lines[lines["currency"] == currency]
        assert money["value"] == pytest.approx(float((mine["quantity"] * mine["unit_price"]).sum()), abs=0.01)
