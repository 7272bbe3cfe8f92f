"""Issue 13, defect 8: fix suggestions for a shop without return reasons — the ``investigate_returns``
lever (same evidence, early warning and savings as the others) on the real-shop fixture (unsized,
reason-less, wholesale, partial returns), the report saying first that reasons are missing (JSON,
API, HTML, command, dashboard), products whose returns are mostly without a reason in a shop that
has reasons, and returns weighed by their units."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from returnrisk.cli import main
from returnrisk.demo.realshop import PSEUDO_PRODUCTS, build_real_shop
from returnrisk.fixes import FixParams, compute_fixes, load_fix_shop
from returnrisk.fixes.counts import ReasonHistory
from returnrisk.fixes.levers import INVESTIGATE
from returnrisk.fixes.report import to_html
from returnrisk.serving import Settings, create_app

ROOT = Path(__file__).resolve().parents[1]
KEY = "merchant-key-investigate"
BASE_RATE = 0.10          # every clean product: one sale in ten comes back
PLANTED_FACTOR = 3.0      # the planted products: three times as many


def plant_returns(folder: Path, seed: int) -> list[str]:
    """Replace the real shop's returns by known ones: clean products at ``BASE_RATE``, three
    products (the 6th, 16th and 31st most sold) at ``PLANTED_FACTOR`` × — partial returns of
    multi-unit lines included, no reasons, no refunds. Returns the planted product ids."""
    rng = np.random.default_rng(seed)
    lines = pd.read_csv(folder / "order_lines.csv", dtype=str, keep_default_na=False)
    merch = lines[~lines["product_id"].isin({p[0] for p in PSEUDO_PRODUCTS})].reset_index(drop=True)
    ranked = merch["product_id"].value_counts().index
    planted = [str(ranked[i]) for i in (5, 15, 30)]
    p = np.where(merch["product_id"].isin(planted), BASE_RATE * PLANTED_FACTOR, BASE_RATE)
    back = merch[rng.random(len(merch)) < p]
    quantity = back["quantity"].astype(int).to_numpy()
    partial = (quantity > 1) & (rng.random(len(back)) < 0.6)
    units = np.where(partial, np.maximum(1, (quantity * rng.uniform(0.1, 0.9, len(back))).astype(int)), quantity)
    returned_at = pd.to_datetime(back["ordered_at"], utc=True) + pd.to_timedelta(
        np.exp(rng.normal(np.log(9), 0.5, len(back))), unit="D")
    returns = pd.DataFrame({"return_id": [f"R{i}" for i in range(len(back))], "line_id": back["line_id"].to_numpy(),
                            "quantity": units, "returned_at": returned_at.dt.strftime("%Y-%m-%dT%H:%M:%SZ")})
    end = pd.to_datetime(lines["ordered_at"], utc=True).max()
    returns[pd.to_datetime(returns["returned_at"], utc=True) <= end].to_csv(folder / "returns.csv", index=False)
    return planted


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The planted real shop, a model trained on it (fast parameters) and its fix report."""
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.tracking import Tracker

    folder = tmp_path_factory.mktemp("investigate") / "shop"
    build_real_shop(folder, n_lines=15_000, seed=3)
    planted = plant_returns(folder, seed=4)
    uri = f"sqlite:///{folder.parent}/mlflow.db"
    run_training(folder, params=load_params(ROOT / "tests" / "fast_params.yaml"), tracker=Tracker(uri))
    bundle, _ = Tracker(uri).load_bundle("models:/returnrisk@champion")
    shop = load_fix_shop(folder)
    report = compute_fixes(shop, bundle, FixParams(), model_info={"version": "1"})
    return {"folder": folder, "planted": planted, "bundle": bundle, "shop": shop, "report": report, "uri": uri}


@pytest.mark.slow
def test_a_product_with_clearly_excessive_returns_is_flagged_and_clean_ones_are_not(real):
    report, planted = real["report"], real["planted"]
    assert real["shop"].returns["reason_code"].isna().all()          # reason-less
    assert report.detection.products["size_system"].eq("unsized").all()   # unsized
    flagged = {f["product_id"]: f for f in report.fixes}
    assert {f["lever"] for f in report.fixes} == {INVESTIGATE}        # no reason lever without reasons
    assert set(planted) <= set(flagged), (planted, sorted(flagged))
    clean = report.products_analysed - len(planted)
    false_positives = set(flagged) - set(planted)
    assert len(false_positives) <= max(2, 0.005 * clean), false_positives   # measured: 0 of 1,247 (3 of 2,497 at 30,000 lines)
    top = flagged[planted[0]]
    evidence = top["evidence"]
    # the same Bayesian evidence as the other levers: rate, reference, interval, posterior
    assert evidence["rate"] > 2 * evidence["reference_rate"] and evidence["p_worse"] >= 0.99
    assert evidence["credible_interval"][0] > evidence["reference_rate"]
    assert top["confidence"] >= 0.95 and evidence["reference"].startswith("shop")   # colour categories: too small
    assert [r["code"] for r in evidence["reasons"]] == ["unknown"]
    assert evidence["reasons"][0]["returns"] == evidence["returns"]
    # early warning: flagged weeks before the end of the data, with fewer sales than now
    assert top["flagged_since"] < report.as_of.strftime("%Y-%m-%d") and top["sales_at_flag"] < top["sales"]
    # savings: the excess rate × sales per month × (cost of a return + lost margin)
    impact = evidence["impact"]
    assert top["expected_returns_avoided_per_month"] == pytest.approx(
        impact["returns_avoided_per_sale"] * top["sales_per_month"], rel=1e-2)
    assert top["expected_savings_per_month"] > 12 * top["expected_returns_avoided_per_month"]
    assert impact["method"].startswith("posterior-mean excess of the return rate")
    assert "100% of its returns give no reason: look at the product" in top["message"]["en"]
    assert "de ses retours n'ont pas de motif : examinez le produit" in top["message"]["fr"]


@pytest.mark.slow
def test_the_report_says_first_that_reasons_are_missing(real, tmp_path, capsys):
    report = real["report"]
    capture = report.summary()["reason_capture"]
    assert (capture["with_reason"], capture["reasons_known"]) == (0, False) and capture["returns"] > 1000
    assert capture["message"]["en"].startswith("No return reasons in this shop's data")
    assert "Aucun motif de retour" in capture["message"]["fr"]
    html = to_html(report)
    assert html.index('id="reason-note"') < html.index("Ranked by expected savings")
    assert "No return reasons in this shop&#39;s data" in html

    output = tmp_path / "fixes.json"
    try:
        main(["fixes", "--data", str(real["folder"]), "--output", str(output), "--tracking-uri", real["uri"],
              "--top", "3", "--json"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out, err = capsys.readouterr()
    assert err.index("No return reasons in this shop's data") < err.index("fix suggestions —")
    assert json.loads(out.strip().splitlines()[-1])["summary"]["reason_capture"]["reasons_known"] is False

    settings = Settings(_env_file=None, merchant_api_keys=[KEY], data_dir=str(real["folder"]),
                        database_url=f"sqlite:///{tmp_path / 'r.db'}")
    with TestClient(create_app(settings, loader=lambda: (real["bundle"], {"version": "1"}))) as client:
        answer = client.get("/v1/fixes?lever=investigate_returns", headers={"Authorization": f"Bearer {KEY}"}).json()
        assert answer["reason_capture"]["message"]["en"] == capture["message"]["en"]
        assert answer["total"] >= 3 and {f["lever"] for f in answer["fixes"]} == {INVESTIGATE}
        page = client.get("/dashboard/fixes?lang=fr", headers={"Authorization": f"Bearer {KEY}"}).text
        assert page.index('id="reason-note"') < page.index('id="fix-count"')
        assert "Aucun motif de retour dans les données" in page


@pytest.mark.slow
def test_products_mostly_without_reason_in_a_shop_with_reasons(trained, tmp_path):
    """In the demo shop (reasons on 92 % of returns), a product whose extra returns come without a
    reason is flagged investigate_returns; the shop's other suggestions do not change."""
    folder = tmp_path / "shop"
    shutil.copytree(trained.data, folder, ignore=shutil.ignore_patterns("truth", ".returnrisk"))
    lines = pd.read_csv(folder / "order_lines.csv", dtype=str, keep_default_na=False)
    returns = pd.read_csv(folder / "returns.csv", dtype=str, keep_default_na=False)
    counts = lines["product_id"].value_counts()
    target = str(counts.index[40])
    own = lines[lines["product_id"] == target]
    kept = own[~own["line_id"].isin(returns["line_id"])]
    extra = kept.sample(frac=0.6, random_state=1)
    added = pd.DataFrame({"line_id": extra["line_id"],
                          "returned_at": (pd.to_datetime(extra["ordered_at"], utc=True) + pd.Timedelta(days=8))
                          .dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason_code": "", "reason_text": ""})
    returns.loc[returns["line_id"].isin(own["line_id"]), ["reason_code", "reason_text"]] = ""
    end = pd.to_datetime(lines["ordered_at"], utc=True).max()
    added = added[pd.to_datetime(added["returned_at"], utc=True) <= end]
    pd.concat([returns, added], ignore_index=True).to_csv(folder / "returns.csv", index=False)

    bundle = trained.bundle()
    before = compute_fixes(load_fix_shop(trained.data), bundle, FixParams())
    after = compute_fixes(load_fix_shop(folder), bundle, FixParams())
    assert after.reason_capture.reasons_known and after.summary()["reason_capture"]["message"] is None
    flagged = [f for f in after.fixes if f["lever"] == INVESTIGATE]
    assert [f["product_id"] for f in flagged] == [target]
    assert not [f for f in before.fixes if f["lever"] == INVESTIGATE]
    unchanged = {(f["product_id"], f["size"], f["lever"]) for f in before.fixes if f["product_id"] != target}
    assert unchanged <= {(f["product_id"], f["size"], f["lever"]) for f in after.fixes}


def test_returns_weigh_by_the_share_of_units_they_bring_back(tiny_shop):
    """A partial return of 1 unit of a 4-unit line counts a quarter of that line; the rest coming
    back later counts at its own date. Whole-line returns count 1, as before."""
    lines = (tiny_shop / "order_lines.csv").read_text().replace("L4,O3,C3,P3,,2,89.00", "L4,O3,C3,P3,,4,89.00")
    (tiny_shop / "order_lines.csv").write_text(lines)
    (tiny_shop / "returns.csv").write_text(
        "line_id,returned_at,reason_code,reason_text,refunded_at,return_cost,quantity,return_id\n"
        "L2,2025-03-09,too_large,,,,,\n"
        "L4,2025-03-06,damaged,,,,1,A\n"
        "L4,2025-03-20,,,,,3,B\n")
    shop = load_fix_shop(tiny_shop)
    rh = ReasonHistory(shop, pd.Timestamp("2025-04-01", tz="UTC"))
    cutoffs = np.array([pd.Timestamp(d, tz="UTC").value // 10**9 for d in ("2025-03-08", "2025-04-01")])
    panel = rh.product_panel(cutoffs)
    bag = panel.keys.get_loc("P3")
    assert panel.k(("damaged",))[bag].tolist() == [0.25, 1.0]   # its reason is the line's (the first given)
    assert panel.n[bag].tolist() == [1, 1]                       # one sale, whatever its units
    dress = panel.keys.get_loc("P1")
    assert panel.k(("too_large",))[dress].tolist() == [0.0, 1.0]
