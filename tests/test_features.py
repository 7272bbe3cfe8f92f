"""Point-in-time features and label maturity: no future leaks into a line's features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from returnrisk.data.loader import load_shop
from returnrisk.features.asof import AsOfCounter
from returnrisk.features.build import IMMATURE, build_training_frame, outcomes_at
from returnrisk.features.catalog import FEATURE_INDEX, FEATURE_NAMES
from returnrisk.features.lines import order_context
from returnrisk.features.snapshot import Snapshot
from returnrisk.timeutil import day_floor


@pytest.fixture(scope="module")
def shop(demo_small):
    return load_shop(demo_small)


def assert_same_matrix(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(both_nan, 0, np.abs(a - b))
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    assert diff.max() <= 1e-5, f"feature {FEATURE_NAMES[worst[1]]} differs on row {worst[0]}: {a[worst]} vs {b[worst]}"


def test_asof_counter_counts_strictly_before():
    counter = AsOfCounter(np.array([0, 0, 1]), np.array([100, 200, 100]), np.array([1.0, 10.0, 5.0]))
    assert counter.query(np.array([0, 0, 0, 1, 2, -1]), np.array([100, 101, 201, 101, 500, 500])).ravel().tolist() \
        == [0.0, 1.0, 11.0, 5.0, 0.0, 0.0]


def test_asof_counter_sums_several_columns_and_per_pair_queries_agree():
    rng = np.random.default_rng(3)
    keys, times = rng.integers(0, 5, 400), rng.integers(0, 50, 400)
    values = rng.random((400, 3))
    counter = AsOfCounter(keys, times, values)
    q_keys, q_times = rng.integers(-1, 6, 300), rng.integers(0, 60, 300)
    expected = np.array([values[(keys == k) & (times < t)].sum(axis=0) if k >= 0 else np.zeros(3)
                         for k, t in zip(q_keys, q_times)])
    np.testing.assert_allclose(counter.query(q_keys, q_times), expected, atol=1e-9)
    np.testing.assert_allclose(counter.query_unique(q_keys, q_times), expected, atol=1e-9)
    (now, before), codes, _ = counter.query_offsets(q_keys, q_times, [0, 5], [None, slice(0, 1)], per_pair=True)
    np.testing.assert_allclose(now[codes], expected, atol=1e-9)
    np.testing.assert_allclose(before[codes], counter.query(q_keys, q_times - 5)[:, :1], atol=1e-9)


def test_order_context_counts_lines_repeats_and_sizes_per_order():
    lines = pd.DataFrame({
        "order_id": ["o1", "o1", "o1", "o1", "o2", "o3", "o3"],
        "product_id": ["a", "a", "a", "b", "a", "b", "c"],
        "size": ["S", "M", "M", "M", "S", None, None],
    }, dtype="string[pyarrow]")
    context = order_context(lines)
    assert context["order_lines"].tolist() == [4, 4, 4, 4, 1, 2, 2]
    assert context["order_same_product"].tolist() == [3, 3, 3, 1, 1, 1, 1]
    assert context["order_sizes_same_product"].tolist() == [2, 2, 2, 1, 1, 1, 1]
    assert all(v.size == 0 for v in order_context(lines.iloc[:0]).values())


def test_as_of_on_full_history_equals_truncated_history(shop):
    as_of = pd.Timestamp("2026-03-01", tz="UTC")
    full = build_training_frame(shop, as_of)
    cut = build_training_frame(shop.truncated(as_of), as_of)
    assert full.lines["line_id"].tolist() == cut.lines["line_id"].tolist()
    assert_same_matrix(full.X, cut.X)
    assert np.array_equal(full.outcome, cut.outcome)


def test_appending_later_data_changes_no_feature_of_earlier_lines(shop):
    cut_at = pd.Timestamp("2026-01-15", tz="UTC")
    past = build_training_frame(shop.truncated(cut_at), cut_at)
    everything = build_training_frame(shop)
    earlier = everything.lines["ordered_at"] < cut_at
    assert earlier.sum() == len(past.lines)
    assert_same_matrix(everything.X[earlier.to_numpy()], past.X)


def test_a_return_after_the_cutoff_does_not_reach_the_lines_features(shop):
    """Moving one customer's return earlier changes only lines ordered after the new date."""
    frame = build_training_frame(shop)
    returns = shop.returns.copy()
    some = returns.iloc[len(returns) // 2]
    ordered = shop.order_lines.set_index("line_id").loc[some["line_id"], "ordered_at"]
    returns.loc[returns.index[len(returns) // 2], "returned_at"] = ordered + pd.Timedelta(hours=1)
    moved = build_training_frame(type(shop)(shop.products, shop.order_lines, returns, shop.tables))
    changed = np.any(~((frame.X == moved.X) | (np.isnan(frame.X) & np.isnan(moved.X))), axis=1)
    cutoff = frame.lines["cutoff"].to_numpy()
    new_time = int((ordered + pd.Timedelta(hours=1)).timestamp())
    assert changed.any()
    assert (cutoff[changed] > new_time).all()


def test_label_maturity(shop):
    as_of = pd.Timestamp("2026-06-01", tz="UTC")
    frame = build_training_frame(shop, as_of, window_days=30)
    t = frame.lines["ordered_at"]
    young = (t >= as_of - pd.Timedelta(days=30)).to_numpy()
    assert young.any()
    assert (frame.outcome[young] == IMMATURE).all()              # unknown, not negative
    assert frame.n_immature == young.sum()
    returned_before = set(shop.returns.loc[shop.returns["returned_at"] < as_of, "line_id"])
    mature = ~young
    is_returned = frame.lines["line_id"].isin(returned_before).to_numpy()
    assert (frame.outcome[mature & is_returned] > 0).all()
    assert (frame.outcome[mature & ~is_returned] == 0).all()
    # a young line already returned is still immature (its siblings' outcomes are unknown)
    assert (young & is_returned).any() and (frame.outcome[young & is_returned] == IMMATURE).all()
    # outcomes as known at an earlier date
    earlier = outcomes_at(frame, as_of - pd.Timedelta(days=60))
    assert (earlier[(t >= as_of - pd.Timedelta(days=90)).to_numpy()] == IMMATURE).all()


def test_cold_start_product_and_customer_get_prior_based_features(shop):
    frame = build_training_frame(shop)
    first_line_of_product = ~frame.lines.duplicated("product_id")
    X = frame.X[first_line_of_product.to_numpy()]
    assert np.all(X[:, FEATURE_INDEX["product_log_sales"]] == 0)
    rate = X[:, FEATURE_INDEX["product_rate"]]
    assert np.all((rate > 0.05) & (rate < 0.8))                   # the category's rate, not 0 or 1
    np.testing.assert_allclose(rate, X[:, FEATURE_INDEX["category_rate"]], rtol=1e-5)
    new_customer = ~frame.lines.duplicated("customer_id")
    assert np.isnan(frame.X[new_customer.to_numpy(), FEATURE_INDEX["size_vs_usual"]]).all()


def test_snapshot_gives_the_same_features_as_the_history(shop):
    as_of = pd.Timestamp("2026-05-01", tz="UTC")                   # a day boundary
    frame = build_training_frame(shop, as_of)
    snapshot = Snapshot.from_history(frame.history, frame.attrs, frame.vocabulary, frame_smoothing(), 30)
    later = shop.order_lines[(shop.order_lines["ordered_at"] >= as_of)
                             & (shop.order_lines["ordered_at"] < as_of + pd.Timedelta(days=1))].copy()
    later = later[later["product_id"].isin(frame.attrs.index) & later["customer_id"].isin(frame.history.customers)]
    assert len(later) > 5
    via_snapshot = snapshot.features(later, now=as_of)
    with_history = build_training_frame(shop, as_of + pd.Timedelta(days=1))
    rows = with_history.lines["line_id"].isin(later["line_id"]).to_numpy()
    order = pd.Index(with_history.lines["line_id"][rows]).get_indexer(later["line_id"])
    assert (day_floor(with_history.lines["cutoff"].to_numpy()[rows]) == int(as_of.timestamp())).all()
    assert_same_matrix(via_snapshot, with_history.X[rows][order])
    # both paths round the same float64 states to float32 the same way: identical, not just close
    np.testing.assert_array_equal(via_snapshot, with_history.X[rows][order])


def frame_smoothing():
    from returnrisk.features.derive import Smoothing

    return Smoothing()


def test_snapshot_scores_new_products_whose_size_is_missing_in_the_loaders_strings(shop):
    """A line of a product the snapshot does not know, without a size (pd.NA in the loader's arrow
    strings), is an unsized cold-start line — it used to raise 'boolean value of NA is ambiguous'
    (KPIs and the forecast of a shop with products newer than the model)."""
    as_of = pd.Timestamp("2026-05-01", tz="UTC")
    frame = build_training_frame(shop, as_of)
    snapshot = Snapshot.from_history(frame.history, frame.attrs, frame.vocabulary, frame_smoothing(), 30)
    lines = pd.DataFrame({"line_id": ["a", "b"], "order_id": ["o", "o"], "customer_id": ["c", "c"],
                          "product_id": ["NEW-1", "NEW-2"], "category": ["bags", "dresses"],
                          "size": pd.array([None, "M"], dtype="string[pyarrow]"),
                          "ordered_at": [as_of, as_of]})
    X = snapshot.features(lines, now=as_of)
    assert X.shape == (2, len(FEATURE_NAMES))
    assert np.isnan(X[0, FEATURE_INDEX["size_position"]]) and not np.isnan(X[1, FEATURE_INDEX["size_position"]])
