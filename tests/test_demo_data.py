"""The demo shop: in the contract, deterministic, and its ground truth matches its history."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from returnrisk.data.loader import load_shop
from returnrisk.demo.generator import generate_demo_shop
from returnrisk.sizes import parse_size_label
from returnrisk.taxonomy import REASON_CODES


def digest(folder):
    return {name: hashlib.sha256((folder / f"{name}.csv").read_bytes()).hexdigest()
            for name in ("products", "order_lines", "returns")}


def test_same_seed_same_shop_other_seed_other_shop(tmp_path):
    a = generate_demo_shop(tmp_path / "a", seed=5, n_lines=5000)
    b = generate_demo_shop(tmp_path / "b", seed=5, n_lines=5000)
    generate_demo_shop(tmp_path / "c", seed=6, n_lines=5000)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert a == b and a["n_lines"] == 5000


def test_demo_shop_is_valid_under_the_contract(demo_small):
    shop = load_shop(demo_small, strict=True)
    assert len(shop.order_lines) == 20_000
    assert shop.problems == []
    assert 0.25 <= len(shop.returns) / len(shop.order_lines) <= 0.42   # a fashion shop's return rate
    assert set(shop.returns["reason_code"].dropna()) <= set(REASON_CODES)


def test_ground_truth_matches_history(demo_small):
    shop = load_shop(demo_small)
    truth = pd.read_parquet(demo_small / "truth" / "lines.parquet")
    assert set(truth["line_id"]) == set(shop.order_lines["line_id"])
    returned = set(truth.loc[truth["returned"], "line_id"])
    assert returned == set(shop.returns["line_id"])      # every returned line in truth is in returns
    assert truth["p_return"].between(0, 1).all()
    groups = [c for c in truth.columns if c.startswith("p_") and c != "p_return"]
    np.testing.assert_allclose(truth[groups].sum(axis=1), truth["p_return"], rtol=1e-4)
    # outcomes follow the true probabilities (calibrated truth)
    assert abs(truth["would_return"].mean() - truth["p_return"].mean()) < 0.01
    manifest = json.loads((demo_small / "truth" / "manifest.json").read_text())
    assert manifest["n_returns"] == len(shop.returns)


def test_planted_causes_are_present_and_raise_their_reason(demo_small):
    products = pd.read_csv(demo_small / "truth" / "products.csv")
    for cause in ("runs_small", "runs_large", "no_size_guide", "misleading_photos", "poor_description",
                  "quality_issue", "packaging_issue"):
        assert products[cause].sum() >= 3, cause
    shop = load_shop(demo_small)
    lines = shop.order_lines.merge(products, on="product_id")
    codes = shop.returns.set_index("line_id")["reason_code"]
    lines["code"] = lines["line_id"].map(codes).fillna("kept")

    def rate(mask, code):
        return (lines.loc[mask, "code"] == code).mean()

    sized = lines["size_system"] != "unsized"
    assert rate(lines["runs_small"], "too_small") > 2 * rate(sized & ~lines["runs_small"] & ~lines["runs_large"], "too_small")
    assert rate(lines["runs_large"], "too_large") > 2 * rate(sized & ~lines["runs_small"] & ~lines["runs_large"], "too_large")
    assert rate(lines["misleading_photos"], "looks_different") > 3 * rate(~lines["misleading_photos"], "looks_different")
    assert rate(lines["poor_description"], "not_as_described") > 3 * rate(~lines["poor_description"], "not_as_described")
    assert rate(lines["quality_issue"], "poor_quality") > 3 * rate(~lines["quality_issue"], "poor_quality")
    size_codes = lambda m: lines.loc[m, "code"].isin(["too_small", "too_large"]).mean()  # noqa: E731
    clean = sized & ~lines["runs_small"] & ~lines["runs_large"]
    assert size_codes(clean & lines["no_size_guide"]) > 1.3 * size_codes(clean & ~lines["no_size_guide"])


def test_demo_has_size_systems_cold_start_bracketing_text_and_seasonality(demo_small):
    shop = load_shop(demo_small)
    kinds = {parse_size_label(s)[0] for s in shop.order_lines["size"].dropna().unique()}
    assert {"letter", "number", "waist"} <= kinds
    assert shop.order_lines["size"].isna().any()                       # unsized products
    assert any(str(s).endswith(".5") for s in shop.order_lines["size"].dropna().unique())  # half shoe sizes
    first_sale = shop.order_lines.groupby("product_id")["ordered_at"].min()
    assert (first_sale > shop.order_lines["ordered_at"].min() + pd.Timedelta(days=300)).sum() > 10  # launches
    same = shop.order_lines.groupby(["order_id", "product_id"])["size"].nunique()
    assert (same > 1).sum() > 50                                       # bracketing
    r = shop.returns
    text_only = r["reason_code"].isna() & r["reason_text"].notna()
    both = r["reason_code"].notna() & r["reason_text"].notna()
    assert text_only.mean() > 0.15 and both.mean() > 0.08
    texts = r["reason_text"].dropna().str.lower()
    assert texts.str.contains("trop|taille|pas ").any() and texts.str.contains("too|size|not ").any()
    delays = (r.set_index("line_id")["returned_at"]
              - shop.order_lines.set_index("line_id")["ordered_at"]).dropna().dt.total_seconds() / 86400
    assert delays.max() < 30 and delays.median() > 3
    by_month = shop.order_lines.groupby(shop.order_lines["ordered_at"].dt.month).size()
    assert by_month.max() > 1.3 * by_month.min()                       # seasonality
    paid = shop.order_lines.merge(shop.products[["product_id", "price"]], on="product_id")
    assert (paid["unit_price"] < paid["price"] - 0.01).mean() > 0.05   # discounts


def test_parquet_format_and_bad_arguments(tmp_path):
    generate_demo_shop(tmp_path / "p", seed=1, n_lines=2000, file_format="parquet")
    assert (tmp_path / "p" / "order_lines.parquet").is_file()
    assert len(load_shop(tmp_path / "p").order_lines) == 2000
    with pytest.raises(ValueError, match="too small"):
        generate_demo_shop(tmp_path / "x", n_lines=10)
    with pytest.raises(ValueError, match="use csv or parquet"):
        generate_demo_shop(tmp_path / "x", n_lines=2000, file_format="xlsx")
