"""Batch scoring: lines sent for scoring, their scores, and a shop's own lines as they were ordered.

* :func:`prepare_scoring_lines` — order lines sent for scoring (CLI file or API body), parsed
  with the data contract's rules; every bad value is reported, nothing is dropped silently;
* :func:`score_frame` — ``p_return``, ``p_<group>`` and the risk band of each line (``returnrisk
  predict``, the MLflow pyfunc, KPIs and the returns forecast);
* :func:`ordered_line_features` — the features of lines from the shop's history, each at the day
  it was ordered with its order's context, as served and with the product's own history set
  aside (what fix suggestions re-score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.data.contract import ColumnSpec, table_spec
from returnrisk.data.parsing import parse_column
from returnrisk.errors import InputError
from returnrisk.features.derive import derive_features
from returnrisk.features.lines import PRODUCT_ATTRIBUTE_COLUMNS, line_inputs, order_context
from returnrisk.features.snapshot import Snapshot
from returnrisk.model.bundle import ServingBundle
from returnrisk.taxonomy import RETURN_GROUPS
from returnrisk.timeutil import day_floor, epoch_seconds

__all__ = ["PRODUCT_FIELDS", "OrderedFeatures", "ordered_line_features", "prepare_scoring_lines", "score_frame"]

#: Product attributes a line may carry for a product the model has never seen.
PRODUCT_FIELDS: tuple[ColumnSpec, ...] = tuple(
    c for c in table_spec("products").columns if c.name not in ("product_id",)
)


def prepare_scoring_lines(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Typed lines ready for :func:`score_frame`.

    Only ``product_id`` is required; ``line_id`` defaults to the row number. Every value that
    cannot be parsed is reported (row and value) — scoring never drops a line silently.
    """
    if "product_id" not in frame.columns:
        found = ", ".join(map(str, frame.columns[:8]))
        raise InputError(f"column 'product_id' missing in {source} (columns found: {found or 'none'})")
    out = frame.copy().reset_index(drop=True)
    if "line_id" not in out.columns:
        out["line_id"] = [str(i + 1) for i in range(len(out))]
    specs = [c for c in table_spec("order_lines").columns if c.name in out.columns] + \
        [c for c in PRODUCT_FIELDS if c.name in out.columns]
    problems = []
    for spec in specs:
        values, bad = parse_column(out[spec.name], spec)
        if spec.minimum is not None:
            bad = bad | (values.to_numpy(dtype=float, na_value=np.nan) < spec.minimum)
        if bad.any():
            rows = np.flatnonzero(bad)[:5]
            shown = ", ".join(f"row {r + 1}: {out[spec.name].iloc[r]!r}" for r in rows)
            problems.append(f"column '{spec.name}': {int(bad.sum())} invalid value(s) ({shown})")
        out[spec.name] = values
    missing_product = out["product_id"].isna()
    if missing_product.any():
        rows = ", ".join(str(r + 1) for r in np.flatnonzero(missing_product)[:5])
        problems.append(f"column 'product_id': empty on row(s) {rows}")
    if problems:
        raise InputError(f"{source}: " + "; ".join(problems) +
                         ". Fix these values (see docs/data-contract.md); nothing was scored")
    return out


def score_frame(bundle: ServingBundle, lines: pd.DataFrame, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Score order lines: ``line_id``, ``p_return``, ``p_<group>`` per reason group, ``risk_band``."""
    lines = lines.reset_index(drop=True)
    X = bundle.snapshot.features(lines, now=now)
    prediction = bundle.model.predict(X)
    rows, _ = bundle.snapshot.product_rows(lines)
    ratio = prediction.p_return / np.maximum(bundle.category_rates(rows["category"].astype(object).fillna("")), 1e-6)
    out = pd.DataFrame({"line_id": lines["line_id"].to_numpy() if "line_id" in lines.columns
                        else np.arange(len(lines)).astype(str)})
    out["p_return"] = prediction.p_return
    for g, group in enumerate(RETURN_GROUPS):
        out[f"p_{group}"] = prediction.p_reasons[:, g]
    out["risk_band"] = bundle.bands.band(ratio)
    return out


@dataclass
class OrderedFeatures:
    """Features of a shop's own lines (see :func:`ordered_line_features`), aligned with ``lines``."""

    lines: pd.DataFrame          # the lines, product attributes added, index 0..n-1
    X: np.ndarray                # as served: the snapshot's history
    X_new_product: np.ndarray    # the product's own return history set aside


def ordered_line_features(snapshot: Snapshot, lines: pd.DataFrame, shop_lines: pd.DataFrame,
                          products: pd.DataFrame) -> OrderedFeatures:
    """Features of ``lines`` from the shop's history, each as it was ordered.

    A line's cut-off is the start of the day it was ordered, and its order context (lines in the
    order, same product, sizes) counts every line of its order in ``shop_lines``. Products the
    snapshot does not know take their attributes from ``products`` (the shop's product table).
    ``X_new_product`` sets the product's own history aside — the product and product-size
    states and the product's kept-size offset (its brand's stays) — as for a product the model
    has not seen yet.
    """
    orders = shop_lines[shop_lines["order_id"].isin(lines["order_id"])]
    context = order_context(orders.reset_index(drop=True))
    position = pd.Index(orders["line_id"]).get_indexer(lines["line_id"])
    context = {name: values[position] for name, values in context.items()}
    lines = lines.reset_index(drop=True)
    attrs = products.set_index(products["product_id"].astype(str))
    for column in PRODUCT_ATTRIBUTE_COLUMNS:
        if column in attrs.columns and column not in lines.columns:
            lines[column] = attrs[column].reindex(lines["product_id"].astype(str)).to_numpy()
    rows, _ = snapshot.product_rows(lines)
    cutoffs = day_floor(epoch_seconds(lines["ordered_at"], whole=True))
    inputs = line_inputs(lines, rows, snapshot.vocabulary, cutoffs, order=context)
    history = snapshot.line_history(lines, rows)
    X = derive_features(history, inputs, snapshot.smoothing)
    for entity in ("product", "product_size"):
        history.states[entity] = np.zeros_like(history.states[entity])
    history.fit_offset = history.fit_offset.copy()
    history.fit_offset[:, :2] = 0.0   # the product's kept-size offset (its brand's, if any, stays)
    return OrderedFeatures(lines, X, derive_features(history, inputs, snapshot.smoothing))
