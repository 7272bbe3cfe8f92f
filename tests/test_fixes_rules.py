"""Fix suggestions without a model: the evidence rules on hand-made panels, messages, report files."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from returnrisk.evidence import excess_probability
from returnrisk.fixes.counts import CODES, Panel
from returnrisk.fixes.detect import category_typical, detect, page_conditions
from returnrisk.fixes.engine import FixReport
from returnrisk.fixes.ids import fix_id
from returnrisk.fixes.messages import message, number, percent
from returnrisk.fixes.params import FixParams
from returnrisk.fixes.report import drivers_chart, reasons_chart, to_frame, to_html, write_report
from returnrisk.fixes.suggestion import Evidence, FixSuggestion, Impact

BASE = {"too_small": 0.07, "too_large": 0.06, "looks_different": 0.02, "not_as_described": 0.02,
        "poor_quality": 0.02, "damaged": 0.006, "changed_mind": 0.08}
EXPOSURE = np.array([50.0, 100.0, 200.0, 400.0])   # four weekly cut-offs
NBSP = "\u00a0"


def _page(**changes) -> dict:
    page = {"category": "dresses", "brand": "Lune", "size_system": "letter", "has_size_guide": 1.0, "n_photos": 6.0,
            "description_length": 140.0, "mentions_material": 1.0, "mentions_dimensions": 1.0, "mentions_fit": 1.0,
            "price": 60.0}
    page.update(changes)
    return page


def build(special: dict[str, tuple[dict, dict, dict]], n_normal: int = 40):
    """Products with the base rates, plus ``special``: id -> (rates, page changes, extra)."""
    ids, pages, rates, extras = [], [], [], []
    for i in range(n_normal):
        ids.append(f"N{i:02d}")
        pages.append(_page(has_size_guide=float(i % 4 != 0)))   # a quarter without a guide
        bump = 1.0 + 0.25 * ((i % 5) - 2) / 2                    # some spread between products
        rates.append({code: r * bump for code, r in BASE.items()})
        extras.append({"kept": 0.05 * ((i % 3) - 1)})
    for pid, (rate, page, extra) in special.items():
        ids.append(pid)
        pages.append(_page(**page))
        rates.append({**BASE, **rate})
        extras.append(extra)
    p, w = len(ids), EXPOSURE.size
    exposure = np.tile(EXPOSURE, (p, 1))
    for j, extra in enumerate(extras):
        if "exposure" in extra:
            exposure[j] = extra["exposure"]
    returns = np.zeros((p, w, len(CODES)))
    for j, rate in enumerate(rates):
        for code, r in rate.items():
            returns[j, :, CODES.index(code)] = np.round(r * exposure[j])
    kept_count = exposure * 0.4
    kept_sum = np.array([[extra.get("kept", 0.0)] * w for extra in extras]) * kept_count
    panel = Panel(pd.Index(ids), np.arange(w, dtype=np.int64) * 7 * 86400, exposure.copy(), exposure, returns,
                  kept_sum, kept_count)
    products = pd.DataFrame(pages, index=pd.Index(ids, name="product_id"))
    return panel, products


@pytest.fixture(scope="module")
def shop_panel():
    special = {
        "QUAL": ({"poor_quality": 0.20}, {}, {}),
        "SLOWQ": ({"poor_quality": 0.045}, {}, {}),
        "TINY": ({"poor_quality": 0.0}, {}, {"exposure": np.array([1.0, 2.0, 3.0, 3.0])}),
        "PHOTO": ({"looks_different": 0.15}, {"n_photos": 2.0}, {}),
        "PHOTO_OK": ({"looks_different": 0.15}, {"n_photos": 8.0}, {}),
        "DESC": ({"not_as_described": 0.15}, {"description_length": 30.0, "mentions_material": 0.0,
                                              "mentions_dimensions": 0.0, "mentions_fit": 0.0}, {}),
        "NOGUIDE": ({"too_small": 0.13, "too_large": 0.12}, {"has_size_guide": 0.0}, {}),
        "SMALL": ({"too_small": 0.25, "too_large": 0.03}, {}, {"kept": 0.5}),
        "SMALL_KEPT": ({}, {}, {"kept": 0.7}),
        "PACK": ({"damaged": 0.08}, {}, {}),
        "BAG": ({"too_small": 0.3}, {"size_system": "unsized", "has_size_guide": np.nan}, {}),
    }
    panel, products = build(special)
    # TINY: two poor-quality returns out of three sales
    panel.returns[panel.keys.get_loc("TINY"), :, CODES.index("poor_quality")] = [0, 1, 2, 2]
    return panel, products


@pytest.fixture(scope="module")
def detection(shop_panel):
    panel, products = shop_panel
    return detect(panel, products, FixParams(), kept_sd=0.5)


def flagged(detection, lever: str) -> set[str]:
    ev = detection.levers[lever]
    return set(detection.panel.keys[ev.passes[:, -1]])


def test_each_planted_problem_gets_its_lever_and_no_other(detection):
    assert flagged(detection, "quality_review") == {"QUAL", "SLOWQ"}
    assert flagged(detection, "packaging_review") == {"PACK"}
    assert flagged(detection, "improve_photos") == {"PHOTO"}
    assert flagged(detection, "improve_description") == {"DESC"}
    assert flagged(detection, "runs_small") == {"SMALL", "SMALL_KEPT"}
    assert flagged(detection, "runs_large") == set()
    assert "NOGUIDE" in flagged(detection, "add_size_guide")
    assert flagged(detection, "add_size_guide") <= {"NOGUIDE"} | {f"N{i:02d}" for i in range(0, 40, 4)}


def test_a_few_sales_do_not_flag_even_when_they_all_come_back(detection):
    """2 poor-quality returns in 3 sales (category 2 %): a wide posterior, no flag."""
    ev = detection.levers["quality_review"]
    row = detection.panel.keys.get_loc("TINY")
    assert ev.k[row, -1] == 2 and ev.exposure[row, -1] == 3
    assert 0.5 < ev.p_worse[row, -1] < 0.95
    assert not ev.passes[row].any()
    # the prior holds at least two pseudo-returns: strength = 2 / reference
    assert ev.strength[row, -1] == pytest.approx(2 / ev.reference[row, -1])


def test_reference_is_the_rest_of_the_category(detection, shop_panel):
    panel, _ = shop_panel
    ev = detection.levers["quality_review"]
    row = panel.keys.get_loc("QUAL")
    k = panel.k(("poor_quality",))[:, -1]
    e = panel.exposure[:, -1]
    others = np.arange(len(k)) != row
    assert ev.reference[row, -1] == pytest.approx(k[others].sum() / e[others].sum())
    assert ev.p_worse[row, -1] == pytest.approx(
        float(excess_probability(k[row], e[row], ev.reference[row, -1], ev.strength[row, -1])), abs=1e-9)
    assert ev.excess[row, -1] == pytest.approx(ev.post_mean[row, -1] - ev.reference[row, -1])
    s = ev.strength[row, -1]                 # shrunk towards the category: 80 / 400 → 16.5 %
    assert ev.post_mean[row, -1] == pytest.approx((80 + s * ev.reference[row, -1]) / (400 + s))
    assert 0.16 < ev.post_mean[row, -1] < 0.17


def test_page_conditions_keep_levers_to_pages_that_can_be_fixed(detection, shop_panel):
    panel, products = shop_panel
    row = panel.keys.get_loc("PHOTO_OK")
    ev = detection.levers["improve_photos"]
    assert ev.p_worse[row, -1] > 0.999 and not ev.eligible[row]       # excess, but 8 photos
    conditions = page_conditions(products.reset_index(drop=True), category_typical(products), FixParams())
    assert not conditions["add_size_guide"][panel.keys.get_loc("BAG")]   # no sizes, no guide to add
    assert not conditions["runs_small"][panel.keys.get_loc("BAG")]
    assert conditions["improve_description"][panel.keys.get_loc("DESC")]


def test_symmetric_size_returns_mean_a_missing_guide_not_a_wrong_chart(detection):
    row = detection.panel.keys.get_loc("NOGUIDE")
    assert detection.levers["runs_small"].p_worse[row, -1] > 0.95      # too small in excess ...
    assert not detection.levers["runs_small"].passes[row, -1]          # ... but as much too large
    assert detection.levers["add_size_guide"].passes[row, -1]
    # the guide's reference is the guided products of the category, not the whole category
    guide = detection.levers["add_size_guide"]
    assert guide.reference[row, -1] < detection.levers["runs_small"].reference[row, -1] + \
        detection.levers["runs_large"].reference[row, -1]


def test_kept_sizes_alone_show_a_product_that_runs_small(detection):
    row = detection.panel.keys.get_loc("SMALL_KEPT")
    ev = detection.levers["runs_small"]
    assert ev.p_worse[row, -1] < 0.95                                   # returns look normal
    assert detection.fit.p_small[row, -1] > 0.95                        # kept sizes do not
    assert ev.passes[row, -1] and ev.confidence[row, -1] == pytest.approx(detection.fit.p_small[row, -1])


def test_first_flag_is_the_first_cutoff_with_enough_evidence(detection):
    first = dict(zip(detection.panel.keys, detection.first_flag("quality_review")))
    ev = detection.levers["quality_review"]
    assert first["QUAL"] == 0                        # 10 poor-quality returns in its first 50 sales
    row = detection.panel.keys.get_loc("SLOWQ")      # a milder problem (4.5 % vs 2 %) takes longer
    assert ev.k[row].tolist() == [2, 4, 9, 18]
    assert ev.p_worse[row, 0] < ev.p_worse[row, 1] < ev.p_worse[row, 2] < 0.95 <= ev.p_worse[row, 3]
    assert first["SLOWQ"] == 3 and ev.passes[row, 3]
    assert first["TINY"] == -1


def test_threshold_is_a_setting(shop_panel):
    panel, products = shop_panel
    strict = detect(panel, products, FixParams(flag_threshold=0.999999), kept_sd=0.5)
    loose = detect(panel, products, FixParams(flag_threshold=0.6), kept_sd=0.5)
    assert len(flagged(strict, "quality_review")) <= 1
    assert "TINY" in flagged(loose, "quality_review")


def test_params_from_economics_and_validation():
    from returnrisk.config import Economics

    economics = Economics(flag_threshold=0.9, return_cost_per_return=7.5, margin_loss_rate=0.2)
    params = FixParams.from_economics(economics, margin_loss_rate=None)
    assert (params.flag_threshold, params.return_cost_per_unit, params.margin_loss_rate) == (0.9, 7.5, 0.2)
    assert FixParams.from_economics(economics, flag_threshold=0.8).flag_threshold == 0.8
    assert not hasattr(FixParams, "with_")
    with pytest.raises(ValueError):
        FixParams(flag_threshold=1.2)
    with pytest.raises(ValueError):
        FixParams(margin_loss_rate=-0.1)


# ---- messages -------------------------------------------------------------------------------
FACTS = {"rate": 0.184, "reference": 0.021, "returns": 46, "sales": 1250, "category": "dresses", "avoided": 3.456}


def test_messages_carry_the_numbers_in_both_languages():
    en, fr = message("quality_review", FACTS, "en"), message("quality_review", FACTS, "fr")
    assert en == ("18% of this product's sales come back for poor quality, against 2.1% in dresses "
                  "(46 returns out of 1,250 sales): review quality with the supplier — about 3.5 fewer returns "
                  "a month (model estimate).")
    assert fr.startswith(f"18{NBSP}% des ventes de ce produit reviennent pour mauvaise qualité, contre 2,1{NBSP}% "
                         f"dans la catégorie « dresses » (46 retours sur 1{NBSP}250 ventes)")
    assert "estimation du modèle" in fr


@pytest.mark.parametrize("lever", ["add_size_guide", "runs_small", "runs_large", "improve_photos",
                                   "improve_description", "quality_review", "packaging_review"])
def test_every_lever_has_one_sentence_per_language(lever):
    facts = {**FACTS, "kept_shift": 0.6, "kept_lines": 80, "photos": 2, "typical_photos": 5, "length": 31,
             "reference_kind": "guided" if lever == "add_size_guide" else "category"}
    for lang in ("en", "fr"):
        text = message(lever, facts, lang)
        assert text.endswith(".") and text.count(". ") == 0, text
        assert percent(0.184, lang) in text and number(3.456, lang) in text
    assert "size" in message(lever, {**facts, "size": "XL"}, "en") or lever not in ("runs_small", "runs_large")


def test_kept_only_fit_message_leads_with_the_kept_sizes():
    facts = {**FACTS, "rate": 0.05, "reference": 0.07, "kept_shift": 0.62, "kept_lines": 140, "kept_only": True}
    en = message("runs_small", facts, "en")
    assert en.startswith("Customers who kept this product took 0.6 sizes larger than their usual size (140 kept")
    assert message("runs_small", facts, "fr").startswith("Les clients qui ont gardé ce produit ont pris 0,6 taille")


# ---- report files -----------------------------------------------------------------------------
def _fix(rank: int, pid: str, lever: str, savings: float) -> FixSuggestion:
    impact = Impact(excess_returns_per_sale=0.06, method="excess", changed=None, returns_avoided_per_sale=0.06,
                    model_drop_page_only=None, model_drop_with_history=None, lines_rescored=None, return_cost=12.0,
                    return_cost_source="setting: return_cost_per_unit", margin_loss_per_return=9.0, line_value=60.0,
                    note="n")
    evidence = Evidence(sales=500, exposure=480.0, sales_per_month=30.0, returns=40, rate=0.08, reference_rate=0.02,
                        reference="category (other products)", excess_rate=0.06, credible_interval=[0.06, 0.1],
                        credible_level=0.9, p_worse=0.99, reasons=[], shap=[], impact=impact)
    return FixSuggestion(
        priority_rank=rank, fix_id=fix_id(pid, None, lever), product_id=pid, size=None, category="dresses", brand="Lune", lever=lever,
        lever_label={"en": lever, "fr": lever}, expected_returns_avoided_per_month=2.0,
        expected_savings_per_month=savings, confidence=0.99, flagged_since="2025-03-02", sales_at_flag=40, sales=500,
        sales_per_month=30.0, evidence=evidence, message={"en": f"<b>{pid}</b> & co", "fr": "é"},
        estimate_note={"en": "n", "fr": "n"})


@pytest.fixture
def tiny_report():
    profile = {"product_id": "P<1>", "category": "dresses", "brand": "Lune", "sales": 500, "exposure": 480.0,
               "returns": 120, "sales_per_month": 30.0, "levers": ["quality_review"], "savings_per_month": 90.0,
               "reasons": [{"code": "poor_quality", "label": {"en": "poor quality", "fr": "x"}, "returns": 40,
                            "rate": 0.08, "category_rate": 0.02, "p_worse": 0.99},
                           {"code": "too_small", "label": {"en": "too small", "fr": "x"}, "returns": 30,
                            "rate": 0.06, "category_rate": 0.07, "p_worse": 0.3}],
               "drivers": [{"feature": "product_quality_rate", "label": {"en": "quality", "fr": "q"},
                            "contribution": 0.4},
                           {"feature": "n_photos", "label": {"en": "photos", "fr": "p"}, "contribution": -0.1}]}
    fixes = [_fix(1, "P<1>", "quality_review", 90.0), _fix(2, "P2", "packaging_review", 10.0)]
    return FixReport(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-02", tz="UTC"), {"version": "3"},
                     FixParams(), fixes, {"P<1>": profile}, 10, 2)


def test_json_and_csv_files(tiny_report, tmp_path):
    path = write_report(tiny_report, tmp_path / "fixes.json")
    assert [f["product_id"] for f in json.loads(path.read_text())] == ["P<1>", "P2"]
    frame = to_frame(tiny_report)
    assert list(frame.columns[:7]) == ["priority_rank", "fix_id", "product_id", "size", "category", "brand", "lever"]
    assert frame["fix_id"].tolist() == [fix_id("P<1>", None, "quality_review"), fix_id("P2", None, "packaging_review")]
    write_report(tiny_report, tmp_path / "fixes.csv")
    back = pd.read_csv(tmp_path / "fixes.csv")
    assert back["expected_savings_per_month"].tolist() == [90.0, 10.0]
    assert back["message_fr"].tolist() == ["é", "é"]
    with pytest.raises(ValueError, match=r"\.json, \.csv, \.html"):
        write_report(tiny_report, tmp_path / "fixes.xlsx")
    assert not list(tmp_path.glob(".fixes*"))   # no temporary file left behind


def test_html_is_self_contained_escaped_and_has_both_charts(tiny_report, tmp_path):
    page = write_report(tiny_report, tmp_path / "fixes.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", "src=", "@import", "url(", "https://"):
        assert forbidden not in page
    assert page.count("http://") == page.count('xmlns="http://www.w3.org/2000/svg"') == 2
    assert "&lt;b&gt;P&lt;1&gt;&lt;/b&gt; &amp; co" in page and "<b>P<1></b>" not in page
    assert 'href="#p-P_1_"' in page and 'id="p-P_1_"' in page
    assert "Model estimates, not measured effects" in page
    assert page.index("P&lt;1&gt;") < page.index("P2")      # ranked by savings


def _product_bars(svg: str) -> list[tuple[float, str]]:
    found = re.findall(r'<rect class="mark" x="150" y="[\d.]+" width="([\d.]+)" height="12" rx="2" '
                       r'fill="(#[0-9a-f]{6})"><title>this product', svg)
    return [(float(w), colour) for w, colour in found]


def test_report_charts_scale_bars_to_the_values_and_flag_at_the_threshold(tiny_report):
    profile = tiny_report.profiles["P<1>"]
    svg = reasons_chart(profile, 0.95, width=560)
    assert svg.startswith('<svg class="chart" data-chart="paired"')     # the dashboard's renderer
    # 8 % is the longest bar (the 290 px between labels and values), 6 % is 3/4 of it; the
    # poor-quality bar (P(worse) 0.99) is red, the too-small one (0.3) is not
    assert _product_bars(svg) == [(pytest.approx(290.0), "#dc2626"), (pytest.approx(217.5), "#2563eb")]
    assert "worse, P ≥ 0.95" in svg
    # the report's flag threshold decides the red, not a constant: at 0.995, 0.99 is not worse
    assert [colour for _, colour in _product_bars(reasons_chart(profile, 0.995))] == ["#2563eb", "#2563eb"]
    drivers = drivers_chart(profile)
    assert drivers.count('<rect class="mark"') == 2 and 'fill="#059669"' in drivers and 'fill="#dc2626"' in drivers
    assert ">quality<" in drivers                  # the label alone: the report's drivers have no value
    assert reasons_chart({**profile, "reasons": []}, 0.95) == "" and drivers_chart({**profile, "drivers": []}) == ""
    assert to_html(tiny_report, max_products=0).count("<svg") == 0


def test_html_report_uses_the_reports_flag_threshold(tiny_report):
    """The page once said and drew "P ≥ 0.95" whatever the threshold the report was made with."""
    strict = FixReport(tiny_report.as_of, tiny_report.generated_at, tiny_report.model,
                       FixParams(flag_threshold=0.995), tiny_report.suggestions, tiny_report.profiles, 10, 2)
    page = to_html(strict)
    assert "flag threshold 0.995" in page and "red: worse with P ≥ 0.995" in page and "P ≥ 0.95" not in page
    assert [colour for _, colour in _product_bars(page)] == ["#2563eb", "#2563eb"]
    assert [colour for _, colour in _product_bars(to_html(tiny_report))] == ["#dc2626", "#2563eb"]


# ---- point-in-time counts on a generated shop -------------------------------------------------
@pytest.fixture(scope="module")
def small_history(demo_small):
    from returnrisk.data.loader import load_shop
    from returnrisk.fixes.counts import ReasonHistory

    shop = load_shop(demo_small)
    return shop, ReasonHistory(shop)


def test_counts_at_the_end_match_the_tables(small_history):
    shop, history = small_history
    panel = history.product_panel(history.cutoffs(7)[-1:])
    lines = shop.order_lines
    n = lines.groupby("product_id").size().reindex(panel.keys).fillna(0).to_numpy()
    assert np.array_equal(panel.n[:, 0], n)
    returned = shop.returns.merge(lines[["line_id", "product_id"]], on="line_id")
    assert panel.returns.sum() == len(returned)
    codes = returned["reason_code"].astype(object).fillna("unknown")
    for code in ("too_small", "poor_quality", "damaged", "unknown"):
        per_product = codes[codes == code].groupby(returned["product_id"]).size()
        assert np.array_equal(panel.k((code,))[:, 0], per_product.reindex(panel.keys).fillna(0).to_numpy()), code
    # exposure: a line counts fully once its window has passed, partly before
    assert (panel.exposure[:, 0] <= panel.n[:, 0] + 1e-9).all()
    young = lines["ordered_at"] >= history.as_of - pd.Timedelta(days=30)
    fresh = set(lines.loc[young, "product_id"])
    settled = [i for i, p in enumerate(panel.keys) if p not in fresh]
    assert np.allclose(panel.exposure[settled, 0], panel.n[settled, 0])
    partial = [i for i, p in enumerate(panel.keys) if p in fresh]
    assert (panel.exposure[partial, 0] < panel.n[partial, 0]).all()


def test_counts_at_a_past_cutoff_use_only_what_was_known_then(small_history):
    """The panel's column at a cut-off equals the panel of the history truncated there."""
    from returnrisk.fixes.counts import ReasonHistory

    shop, history = small_history
    cutoffs = history.cutoffs(7)
    c = cutoffs[len(cutoffs) // 2]
    when = pd.Timestamp(int(c), unit="s", tz="UTC")
    full = history.product_panel(np.array([c]))
    past = ReasonHistory(shop.truncated(when), when).product_panel(np.array([c]), products=full.keys)
    assert past.n.sum() > 1000
    assert np.array_equal(full.n, past.n) and np.array_equal(full.returns, past.returns)
    assert np.allclose(full.exposure, past.exposure)
    assert np.allclose(full.kept_sum, past.kept_sum) and np.array_equal(full.kept_count, past.kept_count)
