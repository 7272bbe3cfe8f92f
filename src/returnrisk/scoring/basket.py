"""Feature rows of order lines sent for scoring (``POST /v1/score``): a basket or a batch.

Lines whose product and size the visitor table knows (nearly all of them) get their rows from
:class:`~returnrisk.scoring.rows.FeatureRows` — no pandas, a few microseconds a line. A basket
with a product the model has never seen goes through
:meth:`~returnrisk.features.snapshot.Snapshot.features` as a whole (the new product's attributes
come with its line), so its order context counts every line either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np
import pandas as pd

from returnrisk.features.lines import basket_context
from returnrisk.features.snapshot import Snapshot
from returnrisk.scoring.rows import FeatureRows
from returnrisk.timeutil import DAY

__all__ = ["BasketLine", "basket_features", "lines_frame"]


@dataclass
class BasketLine:
    """One order line to score. Only ``product_id`` is needed; ``ordered_at`` ``None`` means now;
    ``product`` holds the attributes of a product the model has never seen."""

    product_id: str
    line_id: str = "1"
    order_id: str | None = None
    customer_id: str | None = None
    size: str | None = None
    quantity: int = 1
    unit_price: float | None = None
    ordered_at: datetime | None = None
    product: dict = field(default_factory=dict)


class _Scorer(Protocol):
    """What :func:`basket_features` needs of an :class:`~returnrisk.scoring.explained.ExplainedScorer`
    (which imports this module, so it is not imported here)."""

    pairs: Any          # .index: {(product_id, size or ""): row of the visitor table}
    rows: FeatureRows
    snapshot: Snapshot


def _cutoff(when: datetime | None, now: pd.Timestamp) -> int:
    """Start of the UTC day of ``when`` (naive = UTC), as epoch seconds, like :meth:`Snapshot.features`."""
    if when is None:
        seconds = now.timestamp()
    elif when.tzinfo is None:
        seconds = when.replace(tzinfo=timezone.utc).timestamp()
    else:
        seconds = when.timestamp()
    return (math.floor(seconds) // DAY) * DAY


def lines_frame(lines: list[BasketLine], now: pd.Timestamp) -> pd.DataFrame:
    """The lines as a data-contract frame (product attributes as columns), for :meth:`Snapshot.features`."""
    rows = []
    for line in lines:
        row = {"line_id": line.line_id, "order_id": line.order_id, "customer_id": line.customer_id,
               "product_id": line.product_id, "size": line.size, "quantity": line.quantity,
               "unit_price": line.unit_price, "ordered_at": pd.Timestamp(line.ordered_at or now)}
        row.update(line.product or {})
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    if "created_at" in frame.columns:
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
    return frame


def basket_features(scorer: _Scorer, lines: list[BasketLine], now: pd.Timestamp) -> np.ndarray:
    """The feature matrix of ``lines``, as :meth:`Snapshot.features` computes it."""
    index = scorer.pairs.index
    pairs = [index.get((line.product_id, line.size or "")) for line in lines]
    if any(pair is None for pair in pairs):
        return scorer.snapshot.features(lines_frame(lines, now), now=now)
    rows = scorer.rows
    order = basket_context([line.order_id for line in lines], [line.product_id for line in lines],
                           [line.size for line in lines])
    customers = {cid: rows.customer(cid) for cid in {line.customer_id for line in lines if line.customer_id}}
    return rows.for_lines(
        np.asarray(pairs),
        [customers.get(line.customer_id) if line.customer_id else None for line in lines],
        np.array([line.quantity for line in lines], dtype=float),
        np.array([np.nan if line.unit_price is None else line.unit_price for line in lines], dtype=float),
        np.array([_cutoff(line.ordered_at, now) for line in lines], dtype=np.int64),
        order,
    )
