"""Readable drivers: decoded values stay finite JSON numbers, whatever the feature value."""

from __future__ import annotations

import json

import numpy as np

from returnrisk.features.catalog import FEATURE_INDEX, FEATURE_NAMES
from returnrisk.features.lines import Vocabulary
from returnrisk.scoring.drivers import format_value, top_drivers

VOCABULARY = Vocabulary(["dresses"], ["acme"], ["letters"])


def drivers_of(name: str, value: float) -> dict:
    x = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    x[FEATURE_INDEX[name]] = value
    contributions = np.zeros(len(FEATURE_NAMES) + 1)
    contributions[FEATURE_INDEX[name]] = 0.3
    (driver,) = top_drivers(contributions, x, VOCABULARY, "en", 3)
    json.dumps(driver, allow_nan=False)   # raises on NaN / Infinity
    return driver


def test_prices_and_counts_are_decoded_from_their_logs():
    assert drivers_of("log_price", np.log1p(49.9))["value"] == 49.9
    assert drivers_of("product_log_sales", np.log1p(120))["value"] == 120.0
    assert drivers_of("category", 0)["value"] == "dresses"


def test_a_huge_price_stays_a_finite_number_and_an_overflow_reads_unknown():
    # 1.24e308 is a finite price: rounding it to cents must not overflow (it did with numpy's round)
    assert drivers_of("log_price", np.log1p(1.2426488492126262e308))["value"] > 1e308
    for log_value in (800.0, np.inf, np.nan):
        driver = drivers_of("log_price", log_value)
        assert driver["value"] is None and driver["value_text"] == "unknown"
    assert format_value("discount", 0.25) == "25%"
