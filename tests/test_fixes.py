"""Fix suggestions end to end on the trained demo shop: ground truth, contract, CLI and API."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from returnrisk.fixes import LEVERS, FixParams, compute_fixes, load_fix_shop
from returnrisk.fixes.evaluation import early_warning, lever_scores, planted, read_truth
from returnrisk.lifecycle.labels import lever_name
from returnrisk.serving import Settings, create_app

MERCHANT = "merchant-key-fixes"
REQUIRED = {"product_id", "size", "lever", "priority_rank", "expected_returns_avoided_per_month",
            "expected_savings_per_month", "confidence", "flagged_since", "evidence", "message"}


@pytest.fixture(scope="module")
def bundle(trained):
    return trained.bundle()


@pytest.fixture(scope="module")
def shop(trained):
    return load_fix_shop(trained.data)


@pytest.fixture(scope="module")
def report(shop, bundle):
    return compute_fixes(shop, bundle, FixParams(), model_info={"version": "1"})


@pytest.fixture(scope="module")
def truth(trained):
    return read_truth(trained.data)


def sales_of(report) -> pd.Series:
    panel = report.detection.panel
    return pd.Series(panel.n[:, -1], index=panel.keys)


# ---- quality against the planted causes (the benchmark's looser twin) -------------------------
def test_levers_match_the_planted_causes(report, truth):
    scores = lever_scores(report.fixes, truth, sales_of(report), min_sales=50)
    assert scores.attrs["products"] > 150
    overall = scores.loc["all"]
    assert overall["truth"] > 150
    assert overall["precision"] >= 0.85 and overall["recall"] >= 0.75, scores
    for lever in LEVERS:
        row = scores.loc[lever]
        if row["truth"] >= 15:    # enough planted cases for a per-lever figure
            assert row["precision"] >= 0.8 and row["recall"] >= 0.7, (lever, scores)


def test_problems_are_caught_after_a_few_dozen_sales_and_clean_products_stay_quiet(report, truth):
    warning = early_warning(report.detection, truth)
    anyone = warning.loc["any"]
    assert anyone["flagged"] >= 0.6 * anyone["true"]
    assert anyone["median_sales_at_flag"] <= 60
    assert anyone["false_flags_now"] <= 0.05 * anyone["not_true"]
    assert anyone["false_flags_ever"] <= 0.15 * anyone["not_true"]
    for lever in ("quality_review", "improve_photos", "improve_description"):
        assert warning.loc[lever, "median_sales_at_flag"] <= 60, warning


def test_products_with_few_sales_are_not_flagged_on_noise(report, truth):
    """Over every weekly evaluation of the history, no lever was ever raised on a product that does
    not need it before it had 25 sales; a real problem can be caught after a handful."""
    det = report.detection
    panel = det.panel
    flags = planted(truth).reindex(panel.keys)
    earliest_false, earliest_true = [], []
    for lever in LEVERS:
        first = det.first_flag(lever)
        at = panel.n[np.arange(len(first)), np.maximum(first, 0)]
        needs = flags[lever].to_numpy()
        earliest_false.extend(at[(first >= 0) & ~needs])
        earliest_true.extend(at[(first >= 0) & needs])
    assert min(earliest_false) >= 25
    assert min(earliest_true) < 15
    # and the posterior of a product with few sales stays wide
    ev = det.levers["quality_review"]
    few = np.flatnonzero((panel.n[:, -1] >= 5) & (panel.n[:, -1] < 15))
    assert few.size >= 3
    widths = [np.subtract(*ev.interval(i, -1, 0.9)[::-1]) for i in few]
    assert min(widths) > 0.02


def test_a_tiny_shop_gets_no_suggestion_and_no_error(bundle, tiny_shop):
    """Three products, five sales: no reference worth the name, nothing flagged, profiles still there."""
    report = compute_fixes(load_fix_shop(tiny_shop), bundle)
    assert report.fixes == [] and report.products_analysed == 3
    profile = report.profile("P1")
    assert profile["sales"] == 3 and profile["returns"] == 2 and profile["drivers"] == []
    assert all(r["category_rate"] is None for r in profile["reasons"])
    assert report.profile("NOPE") is None


# ---- the output contract -------------------------------------------------------------------------
def test_every_suggestion_has_the_contract_fields_and_is_ranked_by_savings(report, bundle):
    fixes = report.fixes
    assert len(fixes) > 50
    savings = [f["expected_savings_per_month"] for f in fixes]
    assert savings == sorted(savings, reverse=True)
    assert [f["priority_rank"] for f in fixes] == list(range(1, len(fixes) + 1))
    sizes = bundle.snapshot.product_sizes.groupby("product_id")["size"].agg(lambda s: set(s.astype(str)))
    seen = set()
    for f in fixes:
        assert REQUIRED <= set(f)
        assert f["lever"] in LEVERS
        assert f["size"] is None or f["size"] in sizes.get(f["product_id"], set())
        assert f["confidence"] >= 0.95
        assert f["flagged_since"] is None or f["flagged_since"] <= report.as_of.strftime("%Y-%m-%d")
        assert f["expected_returns_avoided_per_month"] >= 0 and f["expected_savings_per_month"] >= 0
        assert set(f["message"]) == {"en", "fr"} and f["message"]["en"] != f["message"]["fr"]
        assert "model estimate" in f["message"]["en"] and "estimation du modèle" in f["message"]["fr"]
        key = (f["product_id"], f["size"], f["lever"])
        assert key not in seen
        seen.add(key)
    json.dumps(fixes)   # serialisable as is


def test_suggestions_are_typed_and_their_json_leaves_out_what_a_lever_does_not_have(report):
    from pydantic import TypeAdapter

    from returnrisk.fixes import Evidence, FixSuggestion, Impact
    from returnrisk.fixes.levers import ATTRIBUTE_LEVERS, FIT_LEVERS

    assert all(isinstance(s, FixSuggestion) and isinstance(s.evidence, Evidence)
               and isinstance(s.evidence.impact, Impact) for s in report.suggestions)
    # one serialiser: the JSON objects are the typed records, dumped with every type exactly as declared
    strict = TypeAdapter(list[FixSuggestion]).dump_python(report.suggestions, mode="json", warnings="error")
    assert report.fixes == strict == [s.to_dict() for s in report.suggestions]
    for s, f in zip(report.suggestions, report.fixes):
        ev, impact = f["evidence"], f["evidence"]["impact"]
        assert ("fit" in ev) == (s.lever in FIT_LEVERS) and ("page" in ev) == (s.lever in ATTRIBUTE_LEVERS)
        assert ("sizes" in ev) == (s.lever in FIT_LEVERS and s.size is None)
        rescored = {"changed", "model_drop_page_only", "model_drop_with_history", "lines_rescored"}
        assert rescored & set(impact) == (rescored if s.lever in ATTRIBUTE_LEVERS else set())
        assert s.evidence.impact.returns_avoided_per_sale == impact["returns_avoided_per_sale"]
        assert s.expected_savings_per_month == f["expected_savings_per_month"]


def test_evidence_numbers_are_consistent(report):
    params = report.params
    for f in report.fixes:
        ev = f["evidence"]
        assert ev["rate"] == pytest.approx(ev["returns"] / ev["exposure"], rel=1e-2)   # exposure shown to 0.1
        low, high = ev["credible_interval"]
        assert 0 <= low < high <= 1
        assert ev["p_worse"] == pytest.approx(f["confidence"], abs=1e-3) or f["lever"] in ("runs_small", "runs_large")
        assert sum(r["returns"] for r in ev["reasons"]) == ev["returns"]
        impact = ev["impact"]
        per_return = impact["return_cost"] + impact["margin_loss_per_return"]
        assert f["expected_savings_per_month"] == pytest.approx(f["expected_returns_avoided_per_month"] * per_return,
                                                                rel=1e-3, abs=0.02)
        # both factors are shown rounded (4 and 2 decimals): allow exactly that rounding error
        rounding = 0.5e-4 * f["sales_per_month"] + 0.5e-2 * impact["returns_avoided_per_sale"] + 0.5e-3
        assert f["expected_returns_avoided_per_month"] == pytest.approx(
            impact["returns_avoided_per_sale"] * f["sales_per_month"], rel=0, abs=rounding + 1e-9)
        if impact["return_cost_source"].startswith("setting"):
            assert impact["return_cost"] == params.return_cost_per_unit
        assert impact["margin_loss_per_return"] == pytest.approx(params.margin_loss_rate * impact["line_value"],
                                                                 abs=0.01)
        assert "not measured causal effects" in f["estimate_note"]["en"]


def test_reason_levers_are_priced_from_the_excess_and_page_levers_by_rescoring(report):
    by_lever = {lever: [f for f in report.fixes if f["lever"] == lever] for lever in LEVERS}
    for f in by_lever["quality_review"] + by_lever["packaging_review"]:
        assert f["evidence"]["impact"]["returns_avoided_per_sale"] == f["evidence"]["excess_rate"]
        assert f["evidence"]["reasons"][0]["code"] == ("poor_quality" if f["lever"] == "quality_review" else "damaged")
    guides = by_lever["add_size_guide"]
    assert guides
    for f in guides:
        impact = f["evidence"]["impact"]
        assert impact["changed"] == {"has_size_guide": 1.0} and impact["lines_rescored"] > 0
        assert "re-scoring" in impact["method"]
        assert f["evidence"]["page"]["has_size_guide"]["value"] == 0.0
        assert {s["feature"] for s in f["evidence"]["shap"]} >= {"has_size_guide"}
    # the model has learnt that a size guide lowers returns: re-scoring with one avoids returns
    drops = [f["evidence"]["impact"]["model_drop_page_only"] for f in guides]
    assert np.median(drops) > 0.005
    photos = by_lever["improve_photos"]
    assert photos and all(f["evidence"]["page"]["n_photos"]["value"] < f["evidence"]["page"]["n_photos"]
                          ["category_typical"] for f in photos)
    shap = [s for f in photos for s in f["evidence"]["shap"] if s["feature"] == "n_photos"]
    assert np.mean([s["contribution_looks_different_score"] for s in shap]) > 0   # few photos → looks different


def test_a_planted_quality_problem_reads_well(report, truth):
    flags = planted(truth)
    fix = next(f for f in report.fixes if f["lever"] == "quality_review" and flags.loc[f["product_id"], "quality_review"])
    ev = fix["evidence"]
    assert ev["rate"] > 3 * ev["reference_rate"]
    en = fix["message"]["en"]
    assert "come back for poor quality, against" in en and fix["category"] in en
    assert f"{ev['returns']} returns out of" in en
    assert fix["message"]["fr"].startswith(en.split("%")[0].replace(".", ",") + "\u00a0%")
    profile = report.profile(fix["product_id"])
    quality = next(r for r in profile["reasons"] if r["code"] == "poor_quality")
    assert quality["p_worse"] > 0.95 and quality["rate"] > quality["category_rate"]
    assert profile["drivers"] and "quality_review" in profile["levers"]


def test_flagged_since_is_when_the_evidence_first_sufficed(report):
    det = report.detection
    panel = det.panel
    for f in report.fixes[:40]:
        if f["size"] is not None:
            continue
        row = panel.keys.get_loc(f["product_id"])
        passes = det.levers[f["lever"]].passes[row]
        first = int(np.argmax(passes))
        assert pd.Timestamp(int(panel.cutoffs[first]), unit="s", tz="UTC").strftime("%Y-%m-%d") == f["flagged_since"]
        assert f["sales_at_flag"] == panel.n[row, first]
        assert not passes[:first].any()


# ---- CLI ----------------------------------------------------------------------------------------
def cli(*args):
    return subprocess.run([sys.executable, "-m", "returnrisk", *args], capture_output=True, text=True, timeout=900,
                          check=False)


def test_cli_writes_the_json_contract_from_the_trained_data_by_default(trained, tmp_path):
    out = tmp_path / "fixes.json"
    proc = cli("fixes", "--tracking-uri", trained.tracking_uri, "--output", str(out), "--json", "--top", "3",
               "--return-cost", "20", "--margin-loss", "0", "--threshold", "0.99")
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["output"] == str(out) and line["model_version"] == "1"
    assert line["data_dir"] == str(trained.data.resolve())          # bundle.meta["data_dir"]
    assert "model estimates" in proc.stderr.lower() and "fix suggestions" in proc.stderr
    fixes = json.loads(out.read_text())
    assert isinstance(fixes, list) and len(fixes) == line["summary"]["suggestions"] > 50
    assert REQUIRED <= set(fixes[0]) and fixes[0]["priority_rank"] == 1
    assert all(f["confidence"] >= 0.99 for f in fixes)
    assert all(f["evidence"]["impact"]["margin_loss_per_return"] == 0 for f in fixes)
    assert any(f["evidence"]["impact"]["return_cost_source"].startswith("data") for f in fixes)


def test_html_report_of_the_shop_opens_offline(report, tmp_path):
    from returnrisk.fixes.report import write_report

    page = write_report(report, tmp_path / "fixes.html").read_text()
    for forbidden in ("<script", "<link", "src=", "url(", "https://"):
        assert forbidden not in page
    assert page.count("<svg") == len(report.profiles) * 2       # reasons and drivers, per product
    assert page.count("<tr>") == len(report.fixes) + 1
    assert "Ranked by expected savings" in page and "not measured causal effects" in page
    frame = pd.read_csv(write_report(report, tmp_path / "fixes.csv"))
    assert len(frame) == len(report.fixes) and frame["message_fr"].str.contains("estimation du modèle").all()


@pytest.mark.parametrize("args, message", [
    (["--output", "fixes.xlsx"], "use a file ending in .json, .csv or .html"),
    (["--output", "f.json", "--data", "/nonexistent/shop"], "is not a folder"),
    (["--output", "f.json", "--threshold", "1.5"], "flag_threshold"),
])
def test_cli_errors_exit_2_with_a_clear_message(trained, tmp_path, args, message):
    proc = cli("fixes", "--tracking-uri", trained.tracking_uri, *args)
    assert proc.returncode == 2
    assert message in proc.stdout + proc.stderr


# ---- API ----------------------------------------------------------------------------------------
def loader_for(bundle):
    return lambda: (bundle, {"version": "1", "alias": "champion", "uri": "models:/returnrisk@champion",
                             "run_id": "test"})


@pytest.fixture(scope="module")
def client(bundle):
    with TestClient(create_app(Settings(merchant_api_keys=MERCHANT), loader=loader_for(bundle))) as c:
        yield c


AUTH = {"Authorization": f"Bearer {MERCHANT}"}


def _suggestions(listed: list[dict], expected: list[dict]) -> list[dict]:
    """The suggestion's own fields of listed fixes (a listing adds the status, phase, effect and product
    of each fix, issue 17), in the order of ``expected``."""
    by_id = {f["fix_id"]: f for f in listed}
    assert sorted(by_id) == sorted(e["fix_id"] for e in expected)
    assert all(f["status"] == "open" and f["phase"] == "open" for f in listed)   # nobody touched them
    return [{k: by_id[e["fix_id"]].get(k) for k in e} for e in expected]


def test_api_needs_a_merchant_key(client):
    assert client.get("/v1/fixes").status_code == 401
    assert client.get("/v1/fixes", headers={"Authorization": "Bearer nope"}).status_code in (401, 403)
    assert client.get("/v1/products/P000001/fixes").status_code == 401


def test_api_lists_ranked_fixes_once_computed_and_cached(client, report):
    r = client.get("/v1/fixes", headers=AUTH, params={"limit": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 5 and body["total"] == len(report.fixes)
    assert body["model_version"] == "1" and body["as_of"] == report.as_of.isoformat()
    assert "not measured causal effects" in body["note"]["en"]
    assert [f["priority_rank"] for f in body["fixes"]] == [1, 2, 3, 4, 5]
    assert [f["expected_savings_per_month"] for f in body["fixes"]] == \
        [f["expected_savings_per_month"] for f in report.fixes[:5]]
    services = client.app.state.services
    cached = services.fix_reports.cached(services.holder.current)
    client.get("/v1/fixes", headers=AUTH)
    assert services.fix_reports.cached(services.holder.current) is cached


def test_api_filters_by_category_brand_and_lever(client, report):
    fix = report.fixes[0]
    for key in ("category", "brand", "lever"):
        r = client.get("/v1/fixes", headers=AUTH, params={key: fix[key], "limit": 10_000})
        assert r.status_code == 200
        body = r.json()
        assert body["fixes"] and all(f[key] == fix[key] for f in body["fixes"])
        assert body["total"] == sum(1 for f in report.fixes if f[key] == fix[key])
    assert client.get("/v1/fixes", headers=AUTH, params={"lever": "paint_it_red"}).status_code == 422
    assert client.get("/v1/fixes", headers=AUTH, params={"limit": 0}).status_code == 422
    empty = client.get("/v1/fixes", headers=AUTH, params={"category": "spaceships"}).json()
    assert empty["total"] == 0 and empty["fixes"] == []


def test_api_product_fixes_and_profile(client, report):
    pid = report.fixes[0]["product_id"]
    body = client.get(f"/v1/products/{pid}/fixes", headers=AUTH).json()
    assert body["product_id"] == pid and _suggestions(body["fixes"], report.for_product(pid)) == report.for_product(pid)
    assert {r["code"] for r in body["profile"]["reasons"]} >= {"poor_quality", "damaged", "too_small"}
    assert body["profile"]["drivers"]
    quiet = next(p for p in report.detection.panel.keys if not report.for_product(p))
    body = client.get(f"/v1/products/{quiet}/fixes", headers=AUTH).json()
    assert body["fixes"] == [] and body["profile"]["sales"] >= 0 and body["profile"]["drivers"] == []
    r = client.get("/v1/products/NO-SUCH-PRODUCT/fixes", headers=AUTH)
    assert r.status_code == 404 and r.json()["code"] == "product_not_found"


def test_api_fix_schema_is_the_typed_suggestion_and_describes_the_json_exactly(client, report):
    from pydantic import TypeAdapter

    from returnrisk.serving.routes.fixes import Fix

    body = client.get("/v1/fixes", headers=AUTH, params={"limit": 10_000}).json()
    assert _suggestions(body["fixes"], report.fixes) == report.fixes
    adapter = TypeAdapter(list[Fix])
    # every answer validates against the schema and comes back unchanged (absent parts stay absent)
    assert adapter.dump_python(adapter.validate_python(body["fixes"]), mode="json") == body["fixes"]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    fix = schema["Fix"]
    assert fix["properties"]["evidence"]["$ref"].endswith("/Evidence")
    assert fix["properties"]["confidence"]["maximum"] == 1
    assert "null for the whole product" in fix["properties"]["size"]["description"]
    assert set(fix["properties"]["lever"]["enum"]) == set(LEVERS)
    evidence = schema["Evidence"]
    assert {"impact", "reasons", "shap", "fit", "sizes", "page"} <= set(evidence["properties"])
    assert "fit" not in evidence["required"] and "impact" in evidence["required"]
    assert schema["Impact"]["properties"]["return_cost_source"]["type"] == "string"


# ---- products sold without sizes -------------------------------------------------------------------
def test_fixes_of_unsized_products(client, report, bundle):
    from returnrisk.fixes.levers import FIT_LEVERS

    systems = bundle.snapshot.products["size_system"].astype(str)
    unsized = set(systems.index[systems == "unsized"])
    flagged = [f for f in report.fixes if f["product_id"] in unsized]
    assert flagged, "the demo shop has unsized products with suggestions"
    assert all(f["size"] is None and f["lever"] not in FIT_LEVERS + ("add_size_guide",) for f in flagged)
    pid = flagged[0]["product_id"]
    body = client.get(f"/v1/products/{pid}/fixes", headers=AUTH).json()
    assert _suggestions(body["fixes"], report.for_product(pid)) == report.for_product(pid) and body["profile"]["drivers"]
    quiet = next(p for p in sorted(unsized) if not report.for_product(p) and report.has_product(p))
    body = client.get(f"/v1/products/{quiet}/fixes", headers=AUTH).json()
    assert body["fixes"] == [] and body["profile"]["product_id"] == quiet


def test_dashboard_product_pages_of_sized_and_unsized_products(client, report, bundle):
    """Issue 13 defect 1: every product page of an unsized product answered 503."""
    systems = bundle.snapshot.products["size_system"].astype(str)
    unsized = next(f for f in report.fixes if systems[f["product_id"]] == "unsized")
    sized = next(f for f in report.fixes if f["size"] is not None)
    pages = {}
    for fix in (unsized, sized):
        r = client.get(f"/dashboard/products/{fix['product_id']}", headers=AUTH)
        assert r.status_code == 200, r.text[:500]
        label = str(escape(lever_name(fix["lever"])))     # "Runs small", not runs_small (issue 17)
        assert 'data-chart="drivers"' in r.text and f'<span class="pill">{label}</span>' in r.text
        pages[fix["size"]] = r.text
    assert "P(return) ·" not in pages[None] and "P(return) ·" in pages[sized["size"]]   # no size to show
    r = client.get("/dashboard/fixes", headers=AUTH)
    assert r.status_code == 200 and r.text.count('<tr data-lever="') == min(len(report.fixes), 50)   # a page


def test_api_says_how_to_configure_a_missing_history(bundle):
    settings = Settings(merchant_api_keys=MERCHANT, data_dir="/nonexistent/shop-history")
    with TestClient(create_app(settings, loader=loader_for(bundle))) as c:
        r = c.get("/v1/fixes", headers=AUTH)
    assert r.status_code == 503
    assert r.json()["code"] == "data_unavailable" and "RETURNRISK_DATA_DIR" in r.json()["detail"]
