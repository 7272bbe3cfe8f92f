"""Measured fix effects: planted fixes in the demo, the difference in differences, its intervals.

The benchmark's looser twin is at the end: a few planted demo shops, coverage and placebo
false positives within loose bounds that a method ignoring the comparison group fails.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from returnrisk.data.loader import Shop
from returnrisk.demo.generator import generate_demo_shop
from returnrisk.demo.plant_fixes import PLANT_LEVERS
from returnrisk.fixes import LEVER_REASONS, effect_stats, load_fix_shop
from returnrisk.fixes.effect import EffectParams, measure_effects
from returnrisk.fixes.effect_truth import read_planted_fixes, score_effects, summary
from returnrisk.fixes.ids import is_fix_id

START = pd.Timestamp("2025-01-01", tz="UTC")


# ---- a hand-made shop whose answer is known -----------------------------------------------------------
def synthetic_shop(*, days: int = 420, live_day: int = 240, bump_day: int = 300, bump: float = 0.10,
                   per_day: int = 3, seed: int = 0) -> Shop:
    """13 tops (P0 fixed on ``live_day``: its looks_different rate 0.20 → 0.05; C01..C12 stay at
    0.20) and a bag at 0.01; every product's rate rises by ``bump`` from ``bump_day``. Returns
    also come back as changed_mind at 0.10 (and a tenth of them without a reason). P0 is sold in
    two sizes (W32/L34 one line in three)."""
    rng = np.random.default_rng(seed)
    ids = np.array(["P0"] + [f"C{i:02d}" for i in range(1, 13)] + ["B1"])
    products = pd.DataFrame({"product_id": ids, "category": ["tops"] * 13 + ["bags"], "brand": "Lune",
                             "price": 40.0})
    product, day, slot = (a.ravel() for a in np.meshgrid(np.arange(ids.size), np.arange(days), np.arange(per_day),
                                                         indexing="ij"))
    n = product.size
    line_ids = np.char.add("L", np.arange(n).astype(str))
    ordered = START + pd.to_timedelta(day, unit="D") + pd.to_timedelta(8 + 3 * slot, unit="h")
    size = np.where(product == 0, np.where(slot % 3 == 1, "W32/L34", "W30/L32"), "M")
    lines = pd.DataFrame({"line_id": line_ids, "order_id": line_ids, "customer_id": "K1", "product_id": ids[product],
                          "size": size, "quantity": 1, "unit_price": 40.0, "ordered_at": ordered})
    base = np.where(product == 13, 0.01, np.where((product == 0) & (day >= live_day), 0.05, 0.20))
    p = base + np.where(day >= bump_day, bump, 0.0)
    u = rng.random(n)
    lever, other = u < p, (u >= p) & (u < p + 0.10)
    back = np.flatnonzero(lever | other)
    code = np.where(lever[back], "looks_different", "changed_mind").astype(object)
    code[rng.random(back.size) < 0.1] = None
    returns = pd.DataFrame({"line_id": line_ids[back], "returned_at": ordered[back] + pd.Timedelta(days=6),
                            "reason_code": code, "return_cost": 8.0})
    return Shop(products, lines, returns, tables={})


@pytest.fixture(scope="module")
def shop():
    return synthetic_shop()


def fixes(*rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(("product_id", "size", "lever", "live_at"), r)) for r in rows])


LIVE = (START + pd.Timedelta(days=240)).strftime("%Y-%m-%d")
END = START + pd.Timedelta(days=420)      # the day after the last order


def test_the_comparison_removes_a_shop_wide_change_and_the_interval_holds_the_truth():
    # over repeated shops: the estimate is right on average and its 95% interval holds the truth
    truth, table = -0.15, fixes(("P0", None, "improve_photos", LIVE))
    runs = [measure_effects(synthetic_shop(seed=seed), table, as_of=END)[0].lever_rate for seed in range(30)]
    effect = np.array([r.effect for r in runs])
    covers = np.mean([r.low <= truth <= r.high for r in runs])
    assert abs(effect.mean() - truth) < 0.01 and covers >= 0.85
    # the product alone says much less: the shop-wide rise hides 0.06 of the drop
    alone = np.array([r.after - r.before for r in runs])
    assert alone.mean() > truth + 0.04
    assert np.mean([r.comparison_after - r.comparison_before for r in runs]) > 0.04


def test_an_effect_reads_as_a_result_with_money_and_strict_json(shop):
    [e] = measure_effects(shop, fixes(("P0", None, "improve_photos", LIVE)).assign(
        expected_returns_avoided_per_month=10.0, expected_savings_per_month=120.0), as_of=END)
    assert e.status == "measured" and e.verdict == "reduced"
    assert e.comparison_scope == "category" and set(e.comparison_products) <= {f"C{i:02d}" for i in range(1, 13)}
    assert len(e.comparison_products) >= 10
    rate = e.lever_rate
    assert abs(rate.effect + 0.15) < 0.06 and rate.low < rate.effect < rate.high < 0
    assert rate.high - rate.low < 0.12
    assert e.return_rate.low < e.return_rate.effect < e.return_rate.high < 0
    # money: returns avoided per month at the product's current sales (last 90 days), priced like the
    # suggestions
    assert e.sales_per_month == pytest.approx(3 * 30.4375)
    avoided, low, high = e.returns_avoided_per_month
    assert avoided == pytest.approx(-rate.effect * e.sales_per_month) and low < avoided < high
    assert e.savings_per_month[0] == pytest.approx(avoided * (8.0 + 0.15 * 40.0))
    body = e.to_dict()
    json.dumps(body, allow_nan=False)
    assert body["expected"] == {"returns_avoided_per_month": 10.0, "savings_per_month": 120.0}
    assert is_fix_id(body["fix_id"]) and body["live_at"] == LIVE


def test_a_fix_is_too_early_until_sales_matured_and_the_interval_is_informative(shop):
    as_of = END
    recent, month, ok = (as_of - pd.Timedelta(days=d) for d in (10, 45, 180))
    table = fixes(("P0", None, "improve_photos", recent.strftime("%Y-%m-%d")),
                  ("P0", None, "improve_photos", month.strftime("%Y-%m-%d")),
                  ("P0", None, "improve_photos", ok.strftime("%Y-%m-%d")))
    table["fix_id"] = ["a", "b", "c"]   # three versions of one fix, measured side by side
    waiting, few, measured = measure_effects(shop, table, as_of=as_of)
    assert waiting.status == "too_early" and "matured" in waiting.reason and waiting.lever_rate is None
    assert few.status == "too_early" and few.sales_after == 45 and "waiting for more sales" in few.reason
    assert few.lever_rate.high - few.lever_rate.low > measured.lever_rate.high - measured.lever_rate.low
    assert measured.status == "measured"
    strict = measure_effects(shop, table.iloc[[2]], EffectParams(informative_share=0.1), as_of=as_of)[0]
    assert strict.status == "too_early"
    for e in (waiting, few, measured):
        json.dumps(e.to_dict(), allow_nan=False)


def test_without_comparable_products_nothing_is_claimed(shop):
    bag, unknown = measure_effects(shop, fixes(("B1", None, "improve_photos", LIVE),
                                               ("P404", None, "improve_photos", LIVE)))
    assert bag.status == "not_measurable" and "comparable products" in bag.reason and bag.lever_rate is None
    assert unknown.status == "not_measurable" and "P404 has no sales" in unknown.reason


def test_fixed_products_are_never_their_own_comparison_and_sizes_are_measured_apart(shop):
    both = measure_effects(shop, fixes(("P0", None, "improve_photos", LIVE), ("C01", None, "improve_photos", LIVE),
                                       ("P0", "W32/L34", "improve_photos", LIVE)))
    assert "C01" not in both[0].comparison_products and "P0" not in both[1].comparison_products
    assert both[1].lever_rate.low <= 0 <= both[1].lever_rate.high          # C01 did not change
    size = both[2]
    assert size.size == "W32/L34" and size.sales_after == both[0].sales_after // 3
    assert size.sales_per_month == pytest.approx(both[0].sales_per_month / 3, rel=0.01)
    assert size.lever_rate.low <= -0.15 <= size.lever_rate.high
    assert size.fix_id != both[0].fix_id and is_fix_id(size.fix_id)


def test_bad_fix_tables_say_what_is_wrong(shop):
    with pytest.raises(ValueError, match="fixes need the columns live_at"):
        measure_effects(shop, pd.DataFrame({"product_id": ["P0"], "lever": ["improve_photos"]}))
    with pytest.raises(ValueError, match="live_at 'soon' is not a date"):
        measure_effects(shop, fixes(("P0", None, "improve_photos", "soon")))


# ---- planting in the demo generator -------------------------------------------------------------------
# Hashes of the default demo shop (seed 3, 20,000 lines) taken before --plant-fixes existed: files that
# people read byte for byte, and the parquet truth by content (its bytes name the pyarrow version).
DEFAULT_SHOP = {
    "products.csv": "9074f11d0f32ec7841a88093214abe616ce6ea61e4d513d74c5f92a4cf8a5e13",
    "order_lines.csv": "6eadeb253664c59a2b82085ddb08f7d845fb4b96c271974eb8a9876ecfe6940e",
    "returns.csv": "065acfd05aabae94cbd9e83c49613af136f73cc5e5fb94901834b802799e77d1",
    "truth/products.csv": "5d06252126df3490dd216bdc7527870a58e3e53000bceb8e1b6e899782b091cc",
    "truth/manifest.json": "e5185936206646c195f06161f02ad6b3989b5790357f149666d6509dda181921",
    "truth/lines.parquet": "f7dee8f67f857b7ac4d39ff34f26ed9d746a831854aff953118b0c806f724603",
    "truth/customers.parquet": "ad7affa3441a8cc408dbfec475327c00cd1254294bd950ffc056002b71b4d071",
}


def digest(path: Path) -> str:
    if path.suffix == ".parquet":
        content = pd.util.hash_pandas_object(pd.read_parquet(path), index=False).to_numpy().tobytes()
        return hashlib.sha256(content).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_default_demo_shop_is_unchanged(demo_small):
    assert {name: digest(demo_small / name) for name in DEFAULT_SHOP} == DEFAULT_SHOP
    assert sorted(p.name for p in (demo_small / "truth").iterdir()) == \
        ["customers.parquet", "lines.parquet", "manifest.json", "products.csv"]


def test_demo_data_plants_fixes_on_request(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "returnrisk", "demo-data", "--out", str(tmp_path / "d"),
                           "--seed", "2", "--lines", "20000", "--plant-fixes"], check=False, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    planted = read_planted_fixes(tmp_path / "d")
    assert len(planted) >= 2 and set(planted["kind"]) == {"planted", "placebo"}
    assert (tmp_path / "d" / "truth" / "planted_shifts.csv").is_file()


@pytest.fixture(scope="module")
def planted_shops(tmp_path_factory) -> list[Path]:
    folders = []
    for seed in (1, 2, 3):
        folder = tmp_path_factory.mktemp(f"planted{seed}")
        generate_demo_shop(folder, seed=seed, n_lines=60_000, plant_fixes=True)
        folders.append(folder)
    return folders


def test_planted_fixes_change_only_what_they_say(planted_shops, tmp_path):
    folder = planted_shops[0]
    plain = tmp_path / "plain"
    generate_demo_shop(plain, seed=1, n_lines=60_000)
    truth = read_planted_fixes(folder)
    assert set(truth["lever"]) == set(PLANT_LEVERS)
    assert {lever: LEVER_REASONS[lever] for lever in PLANT_LEVERS} == PLANT_LEVERS
    counts = truth["kind"].value_counts()
    assert counts["planted"] == counts["placebo"] >= 5
    assert (truth.loc[truth["kind"] == "placebo", ["true_effect", "true_effect_return"]] == 0).all().all()
    planted = truth[truth["kind"] == "planted"]
    assert (planted["true_effect"] < 0).all() and (planted["true_effect"] > -0.6).all()
    assert ((planted["lines_before"] >= 50) & (planted["lines_after"] >= 50)).all()
    shifts = pd.read_csv(folder / "truth" / "planted_shifts.csv")
    assert len(shifts) == 4 and ((shifts["step_factor"] < 0.75) | (shifts["step_factor"] > 1.4)).all()

    # the orders are the plain shop's: only the sizes picked with a new size guide differ
    a = pd.read_csv(plain / "order_lines.csv", keep_default_na=False)
    b = pd.read_csv(folder / "order_lines.csv", keep_default_na=False)
    assert a.drop(columns="size").equals(b.drop(columns="size"))
    moved = a["size"] != b["size"]
    guided = planted[planted["lever"] == "add_size_guide"]
    live = b["product_id"].map(dict(zip(guided["product_id"], guided["live_at"])))
    assert moved.any() and (b.loc[moved, "ordered_at"].str[:10] >= live[moved]).all()
    pages = pd.read_csv(folder / "products.csv").set_index("product_id")
    assert pages.loc[guided["product_id"], "has_size_guide"].all()
    placebo_guides = truth[(truth["kind"] == "placebo") & (truth["lever"] == "add_size_guide")]
    assert not pages.loc[placebo_guides["product_id"], "has_size_guide"].any()


@pytest.fixture(scope="module")
def planted_loaded(planted_shops) -> list[tuple[Shop, pd.DataFrame]]:
    return [(load_fix_shop(folder), read_planted_fixes(folder)) for folder in planted_shops]


def score(loaded) -> dict:
    scored = [score_effects(measure_effects(shop, truth), truth) for shop, truth in loaded]
    return summary(pd.concat(scored, ignore_index=True))


def test_intervals_cover_planted_effects_and_spare_placebos(planted_loaded, monkeypatch):
    result = score(planted_loaded)
    assert result["planted_with_interval"] >= 25 and result["placebo_with_interval"] >= 25
    assert result["coverage"] >= 0.8
    assert result["placebo_false_positive_rate"] <= 0.2
    assert result["mean_abs_error"] < 0.07

    # a broken method, blind to what happened to comparable products, fails the same bounds
    monkeypatch.setattr(effect_stats, "comparison_rates", lambda kb, nb, ka, na, scale: (0.0, 0.0, 0.0, 0.0, 1.0))
    broken = score(planted_loaded)
    assert broken["coverage"] < 0.8 or broken["placebo_false_positive_rate"] > 0.2
