"""Each platform's fixture pages imported, checked line by line, validated and trained on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from returnrisk.importers import ImportSettings, import_shop

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PLATFORMS = ("shopify", "woocommerce", "prestashop")
SETTINGS = {"prestashop": ImportSettings(timezone="Europe/Paris", test_payment_modules=("ps_cashondelivery",))}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "returnrisk", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def imported(tmp_path_factory) -> dict[str, tuple[Path, object]]:
    out = {}
    for platform in PLATFORMS:
        folder = tmp_path_factory.mktemp(f"imported-{platform}")
        report = import_shop(platform, FIXTURES / platform, folder, settings=SETTINGS.get(platform, ImportSettings()))
        out[platform] = (folder, report)
    return out


def tables(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return tuple(pd.read_parquet(folder / f"{name}.parquet") for name in ("products", "order_lines", "returns"))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_report_reconciles_every_input_line(imported, platform):
    folder, report = imported[platform]
    saved = json.loads((folder / "import-report.json").read_text())
    for part in ("order_lines", "returns"):
        tally = saved[part]
        assert tally["read"] == tally["written"] + sum(tally["skipped"].values()), part
    _, lines, returns = tables(folder)
    assert saved["order_lines"]["written"] == len(lines)
    assert saved["returns"]["written"] == len(returns)
    assert saved["reconciles"] is True
    assert set(saved["currencies"]) == {"EUR", "CHF"} == set(lines["currency"])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_special_orders_are_set_aside_with_their_reason(imported, platform):
    skipped = imported[platform][1].order_lines.skipped
    assert skipped["test_order"] >= 1
    assert skipped["cancelled_before_fulfilment"] >= 2
    assert skipped["gift_card" if platform == "shopify" else "not_shipped"] == 1
    if platform != "prestashop":  # PrestaShop charges shipping on the order, not as a line
        assert skipped["shipping_line"] >= 700
    if platform == "woocommerce":
        assert skipped["tip_or_fee"] == 1
    refunds = imported[platform][1].refunds_without_return
    assert refunds["lines"] + refunds["refunds_without_lines"] >= 2  # price adjustment + shipping refund


@pytest.mark.parametrize("platform", PLATFORMS)
def test_guests_get_one_pseudonym_and_no_email_is_written(imported, platform):
    folder, _ = imported[platform]
    _, lines, _ = tables(folder)
    from returnrisk.importers.customers import guest_id

    marie = guest_id("marie.dupont@example.fr")
    assert lines.loc[lines["customer_id"] == marie, "order_id"].nunique() == 2
    for path in folder.iterdir():
        assert b"@example" not in path.read_bytes(), path.name


@pytest.mark.parametrize("platform", PLATFORMS)
def test_ids_sizes_and_partial_returns(imported, platform):
    folder, report = imported[platform]
    products, lines, returns = tables(folder)
    assert lines["line_id"].str.fullmatch(r"\d+").all() and lines["order_id"].str.fullmatch(r"\d+").all()
    assert not lines["line_id"].duplicated().any()
    sizes = set(lines["size"].dropna())
    assert {"M", "38", "W32/L34", "10.5"} <= sizes  # letter, EU shoe, waist/length, US half size
    assert not sizes & {"EU 38", "38 EU", "T2", "Noir", "Blanc"}  # normalised, and never a colour
    assert report.sizes["unparsed_labels"].keys() == {"XS/S", "M/L"}
    bags = products.loc[products["category"] == "bags", "product_id"]
    assert lines.loc[lines["product_id"].isin(bags), "size"].isna().all()
    partial = returns.merge(lines, on="line_id", suffixes=("", "_line"))
    assert ((partial["quantity_line"] == 2) & (partial["quantity"] == 1)).any()
    assert (returns["quantity"] <= returns["line_id"].map(lines.set_index("line_id")["quantity"])).all()
    assert (returns["refunded_at"].dropna() >= returns.loc[returns["refunded_at"].notna(), "returned_at"]).all()


def test_shopify_reasons_exchange_and_declined_return(imported):
    folder, report = imported["shopify"]
    _, lines, returns = tables(folder)
    assert {"too_small", "too_large", "looks_different", "poor_quality", "changed_mind"} <= set(returns["reason_code"].dropna())
    assert report.returns.skipped["declined_or_cancelled"] == 1
    exchange = returns[returns["reason_text"].fillna("").str.contains("échange")]
    assert len(exchange) == 1
    order = lines[lines["line_id"] == exchange["line_id"].iloc[0]]["order_id"].iloc[0]
    same_order = lines[lines["order_id"] == order]
    # the replacement is ordered when the exchange was made, not with the original order
    assert same_order["ordered_at"].nunique() == 2
    assert same_order["ordered_at"].max() == exchange["returned_at"].iloc[0]
    rest = returns[returns["return_id"].str.startswith("refund-")]
    assert len(rest) > 50 and rest["reason_code"].isna().all() and rest["reason_text"].notna().all()


def test_woocommerce_and_prestashop_keep_free_text_reasons(imported):
    for platform in ("woocommerce", "prestashop"):
        _, _, returns = tables(imported[platform][0])
        assert returns["reason_code"].isna().all() and returns["reason_text"].notna().all()
        assert not returns["reason_text"].str.contains("<p>").any()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cli_import_then_validate_exits_0(tmp_path, platform):
    out = tmp_path / "shop"
    proc = cli("import", platform, "--input", str(FIXTURES / platform), "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["reconciles"] is True and report["order_lines"]["written"] > 1400
    check = cli("validate", "--data", str(out))
    assert check.returncode == 0, check.stderr
    assert "no problems found" in check.stdout


SMALL_DATA_PARAMS = """\
# the fixtures hold 6 months (~1,450 lines): a shorter return window and validation period
data: {window_days: 21}
split: {validation_days: 28, calibration_days: 16, refit: false}
model:
  return_model: {learning_rate: 0.15, min_data_in_leaf: 20}
  reason_model: {learning_rate: 0.2, min_data_in_leaf: 20}
  max_rounds_return: 60
  max_rounds_reason: 30
  early_stopping_rounds: 10
"""


@pytest.mark.slow
@pytest.mark.parametrize("platform", PLATFORMS)
def test_imported_fixture_trains(imported, platform, tmp_path):
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.tracking import Tracker

    params_file = tmp_path / "params.yaml"
    params_file.write_text(SMALL_DATA_PARAMS)
    result = run_training(imported[platform][0], params=load_params(params_file),
                          tracker=Tracker(f"sqlite:///{tmp_path}/mlflow.db"))
    assert result.model_version == "1" and result.promoted
    assert result.metrics["val_rows"] >= 100
    assert 0.0 < result.metrics["val_mean_predicted"] < 1.0
