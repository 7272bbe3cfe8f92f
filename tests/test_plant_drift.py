"""demo-data --plant-drift: opt-in, the default shop unchanged byte for byte, the drift where it says."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pandas as pd

from returnrisk.demo.generator import generate_demo_shop
from returnrisk.demo.plant_drift import DRIFT_CATEGORY, drift_start

# sha256 of the default shop (seed 5, 5,000 lines) written by main @ bdf1d00, before the drift hook
# existed: the hook must not change a byte of it (CSV files and manifest; Parquet files embed the
# pyarrow version, so they are compared between two runs of this code below instead).
MAIN_DIGESTS = {
    "order_lines.csv": "bc72993547f03e5638873acda467588b830701f77d435bd2bb6f5eb9e6ca0a11",
    "products.csv": "ac1c2611b2331329086954a0b50b7c13e644a01fdcaf2c1a479ffba016f5faf6",
    "returns.csv": "d9d9978349e01c0dea51c9321ad2123fb68bad542302ab7d6ab54d9861b49510",
    "truth/manifest.json": "06247a010eae18255120a038c368aa8136dac1bf7ae0c3ea083dc070052a81e8",
    "truth/products.csv": "f12a5585156ac425dd847eeca2459da373ba0b65d719a97976a083a46284c358",
}


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_shop_is_byte_identical_to_main_and_without_drift_files(tmp_path):
    generate_demo_shop(tmp_path / "a", seed=5, n_lines=5000)
    generate_demo_shop(tmp_path / "b", seed=5, n_lines=5000, plant_drift=False)
    for name, digest in MAIN_DIGESTS.items():
        assert sha(tmp_path / "a" / name) == digest, name
    for name in ("truth/lines.parquet", "truth/customers.parquet"):
        assert sha(tmp_path / "a" / name) == sha(tmp_path / "b" / name)
    assert not (tmp_path / "a" / "truth" / "drift.json").exists()
    assert "planted_drift" not in json.loads((tmp_path / "a" / "truth" / "manifest.json").read_text())


def test_planted_drift_raises_the_category_rate_after_its_start_only(tmp_path):
    plain, planted = tmp_path / "plain", tmp_path / "planted"
    generate_demo_shop(plain, seed=4, n_lines=20_000)
    manifest = generate_demo_shop(planted, seed=4, n_lines=20_000, plant_drift=True)
    # same catalogue and orders: only outcomes move
    for name in ("products.csv", "order_lines.csv"):
        assert sha(plain / name) == sha(planted / name)
    drift = json.loads((planted / "truth" / "drift.json").read_text())
    assert drift == manifest["planted_drift"] and drift["category"] == DRIFT_CATEGORY
    start = pd.Timestamp(drift["start"])
    assert start == drift_start(pd.Timestamp("2024-10-01"), 730).tz_localize("UTC")
    assert drift["true_rate_with_drift"] - drift["true_rate_without_drift"] > 0.15

    def rates(folder):
        lines = pd.read_csv(folder / "order_lines.csv", parse_dates=["ordered_at"])
        products = pd.read_csv(folder / "products.csv")
        returned = lines["line_id"].isin(pd.read_csv(folder / "returns.csv")["line_id"])
        category = lines["product_id"].map(products.set_index("product_id")["category"])
        after = lines["ordered_at"] >= start
        # lines ordered in the last 30 days may not be returned yet: compare matured lines
        matured = lines["ordered_at"] < lines["ordered_at"].max() - pd.Timedelta(days=30)
        drifted = (category == DRIFT_CATEGORY) & after & matured
        return returned[drifted].mean(), returned[(category == DRIFT_CATEGORY) & ~after].mean(), \
            returned[(category != DRIFT_CATEGORY) & after & matured].mean()

    p_after, p_before, p_other = rates(plain)
    d_after, d_before, d_other = rates(planted)
    assert d_after - p_after > 0.12                    # the drift, observed in the data
    assert d_before == p_before                        # before its start: the same returns
    assert d_other == p_other                          # other categories: the same returns
    truth = pd.read_parquet(planted / "truth" / "lines.parquet")
    plain_truth = pd.read_parquet(plain / "truth" / "lines.parquet")
    moved = (truth["p_return"] - plain_truth["p_return"]).abs() > 1e-6
    assert moved.sum() == drift["drifted_lines"] > 100


def test_cli_plant_drift_option(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "returnrisk", "demo-data", "--out", str(tmp_path / "s"),
                           "--lines", "3000", "--plant-drift"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "planted drift: jeans from" in proc.stdout and "--as-of" in proc.stdout
    assert (tmp_path / "s" / "truth" / "drift.json").is_file()
