"""Feature rows of the catalogue for any shopper and any order line, from the visitor table, without pandas.

The visitor table holds one feature row per (product, size) the snapshot knows, computed once
when a model is loaded. A line's row differs from its visitor row only in

* the columns of its customer (:data:`~returnrisk.features.derive.CUSTOMER_FEATURES`), computed
  by :func:`~returnrisk.features.derive.customer_features` — the function training uses — from
  the customer's state, size profile and body size in the snapshot;
* what the line sets itself (:func:`~returnrisk.features.lines.line_terms`: discount, quantity,
  the product's age and the month at the line's cut-off) and its order context.

So a known customer's rows for every size of a product are a slice of the table with nine
columns recomputed (tens of microseconds), and a basket of known products needs no pandas at all.
The rows equal those of :meth:`~returnrisk.features.snapshot.Snapshot.features` exactly (tests
compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.features.catalog import FEATURE_INDEX
from returnrisk.features.derive import CUSTOMER_FEATURES, customer_features, shop_rates
from returnrisk.features.lines import line_terms
from returnrisk.features.snapshot import SEP, Snapshot
from returnrisk.timeutil import epoch_seconds

__all__ = ["FeatureRows", "CustomerState", "LINE_COLUMNS"]

#: Columns a line sets itself (besides its customer's): its terms and its order context.
LINE_COLUMNS = ("discount", "quantity", "product_age_days", "month", "order_lines", "order_same_product",
                "order_sizes_same_product")
_CUSTOMER = [FEATURE_INDEX[name] for name in CUSTOMER_FEATURES]
_LINE = [FEATURE_INDEX[name] for name in LINE_COLUMNS]


@dataclass(frozen=True)
class CustomerState:
    """What the snapshot knows of one customer, as float32 rows (the precision of the features)."""

    customer_id: str
    state: np.ndarray     # (1, len(STATE_COLUMNS))
    body: np.ndarray      # (1, 2)


class FeatureRows:
    """Rows of the visitor table (``X``: one per pair, in ``pairs`` order) for customers and lines.

    ``product_ids`` and ``systems`` give each pair's product and size system, ``ordinal`` its
    size ordinal and ``moments`` the kept-size moments of its system (the visitor table's own).
    """

    def __init__(self, snapshot: Snapshot, X: np.ndarray, product_ids: list[str], systems: list[str],
                 ordinal: np.ndarray, moments: np.ndarray):
        self.snapshot = snapshot
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.ordinal = np.asarray(ordinal, dtype=float)
        self.offset = self.X[:, FEATURE_INDEX["product_fit_offset"]]
        self.moments = np.asarray(moments, dtype=np.float32)
        self.systems = list(systems)
        rows_of: dict[str, list[int]] = {}
        for i, pid in enumerate(product_ids):
            rows_of.setdefault(pid, []).append(i)
        #: each product's rows, in the order of the pairs (its sizes in their order)
        self.rows_of = {pid: np.asarray(rows) for pid, rows in rows_of.items()}
        products = snapshot.products.reindex(pd.Index(product_ids, dtype=object))
        self.price = products["price"].to_numpy(dtype=float)
        created = products["created_at"]
        self.created_s = np.where(created.isna().to_numpy(), np.nan, epoch_seconds(created, whole=True))
        shop = snapshot.states["shop"].to_numpy().astype(np.float32)
        self.shop_rate, self.shop_g = shop_rates(shop, snapshot.smoothing)
        self._customers = snapshot.states["customer"]
        self._customer_values = self._customers.to_numpy()
        self._profiles = snapshot.profiles
        self._profile_values = self._profiles.to_numpy()
        self._bodies = snapshot.bodies
        self._body_values = self._bodies.to_numpy()
        self._nobody = CustomerState("", np.zeros((1, shop.shape[1]), np.float32), np.zeros((1, 2), np.float32))

    # ---- customers ------------------------------------------------------------------------------
    def customer(self, customer_id: str | None) -> CustomerState | None:
        """The customer's state, or ``None`` if the snapshot has no history of them."""
        if not customer_id:
            return None
        try:
            position = self._customers.index.get_loc(customer_id)
        except (KeyError, TypeError):
            return None
        if not isinstance(position, (int, np.integer)):
            return None
        body = np.zeros((1, 2), np.float32)
        try:
            body[0] = self._body_values[self._bodies.index.get_loc(customer_id)]
        except (KeyError, TypeError):
            pass
        return CustomerState(customer_id, self._customer_values[position:position + 1].astype(np.float32), body)

    def profile_values(self, key: str) -> np.ndarray:
        """The snapshot's size profile ``customer_id SEP size_system`` (float64: signal, count, kept);
        ``KeyError`` if there is none."""
        position = self._profiles.index.get_loc(key)
        if not isinstance(position, (int, np.integer)):
            raise KeyError(key)
        return self._profile_values[position]

    def profile(self, customer: CustomerState, system: str) -> np.ndarray:
        """``(1, 3)``: the customer's size profile in ``system`` (zeros if none)."""
        out = np.zeros((1, 3), np.float32)
        try:
            out[0] = self._profile_values[self._profiles.index.get_loc(f"{customer.customer_id}{SEP}{system}")]
        except (KeyError, TypeError):
            pass
        return out

    def _customer_columns(self, rows: np.ndarray, state: np.ndarray, profile: np.ndarray, body: np.ndarray):
        return customer_features(state, self.shop_rate, self.shop_g, profile, body, self.moments[rows],
                                 self.ordinal[rows], self.offset[rows], self.snapshot.smoothing)

    def for_customer(self, rows: np.ndarray, customer: CustomerState) -> np.ndarray:
        """The visitor rows ``rows`` (pairs of one size system, e.g. every size of a product) for ``customer``."""
        rows = np.asarray(rows)
        X = self.X[rows].copy()
        profile = self.profile(customer, self.systems[int(rows[0])])
        columns = self._customer_columns(rows, customer.state, profile, customer.body)
        for j, name in zip(_CUSTOMER, CUSTOMER_FEATURES):
            X[:, j] = columns[name]
        return X

    # ---- order lines ----------------------------------------------------------------------------
    def for_lines(self, rows: np.ndarray, customers: list[CustomerState | None], quantity: np.ndarray,
                  unit_price: np.ndarray, cutoffs: np.ndarray, order: dict[str, np.ndarray]) -> np.ndarray:
        """Rows of order lines of known pairs ``rows``: each with its customer (``None``: none known),
        quantity, unit price (NaN: the product's price), cut-off (epoch seconds) and ``order`` context
        (:func:`~returnrisk.features.lines.order_context`)."""
        rows = np.asarray(rows)
        n = len(rows)
        X = self.X[rows].copy()
        state = np.empty((n, self._nobody.state.shape[1]), np.float32)
        profile = np.zeros((n, 3), np.float32)
        body = np.empty((n, 2), np.float32)
        for i, (row, customer) in enumerate(zip(rows, customers)):
            customer = customer or self._nobody
            state[i], body[i] = customer.state[0], customer.body[0]
            if customer is not self._nobody:
                profile[i] = self.profile(customer, self.systems[int(row)])[0]
        columns = self._customer_columns(rows, state, profile, body)
        columns.update(line_terms(self.price[rows], unit_price, quantity, self.created_s[rows], cutoffs))
        columns.update(order)
        for j, name in zip(_CUSTOMER + _LINE, CUSTOMER_FEATURES + LINE_COLUMNS):
            X[:, j] = columns[name]
        return X
