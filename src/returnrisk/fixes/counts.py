"""Point-in-time reason counts: what the shop knew of each product at any cut-off.

For every product (and product × size) at a cut-off ``c``:

``n``
    lines ordered before ``c``;
``exposure``
    *exposure-adjusted* sales: a line whose return window has passed counts 1, a line ``a``
    days old counts the share of returns that arrive within ``a`` days (the shop's
    return-delay curve, learnt from returns completed before ``c``). This is the exposure of
    :class:`returnrisk.features.history.HistoryIndex`, the same the model's features use, so
    ``returns / exposure`` is an unbiased rate even for a product launched last week;
``returns[code]``
    returns registered before ``c``, per reason code of the taxonomy (``poor_quality`` and
    ``damaged`` separately) plus ``unknown`` for returns whose reason is neither given nor
    inferable — **weighed by units**: each return counts the share of its line's units it
    brought back, at the time it was registered (a partial return of 3 units of a 12-unit line
    counts 0.25, the rest of the line coming back a week later 0.75 then). A line counts at most
    one return, however many units it holds: the evidence is about customers' decisions, and a
    500-unit wholesale line is one of them, not 500 (see ``docs/fixes.md``). Whole-line returns
    count 1, as before partial returns existed;
``kept_sum``, ``kept_count``
    for products: how far from their usual size (in size steps) the customers who kept the
    product ordered — positive when they took a larger size than usual (the product runs small).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop
from returnrisk.features.asof import AsOfCounter
from returnrisk.features.attributes import product_attributes
from returnrisk.features.build import prepare_lines
from returnrisk.features.history import HistoryIndex
from returnrisk.taxonomy import NO_REASON, REASON_CODES
from returnrisk.timeutil import DAY, DEFAULT_WINDOW_DAYS, day_floor, default_as_of, epoch_seconds, to_utc

__all__ = ["CODES", "Panel", "ReasonHistory"]

log = logging.getLogger(__name__)

#: Reason codes counted, in column order: the taxonomy, then returns without a reason.
CODES: tuple[str, ...] = REASON_CODES + (NO_REASON,)
_CODE = {code: i for i, code in enumerate(CODES)}


@dataclass
class Panel:
    """States of ``keys`` at ``cutoffs`` (arrays are ``(keys, cutoffs)``, returns add codes)."""

    keys: pd.Index
    cutoffs: np.ndarray          # int64 seconds, increasing
    n: np.ndarray
    exposure: np.ndarray
    returns: np.ndarray          # (keys, cutoffs, len(CODES))
    kept_sum: np.ndarray | None = None
    kept_count: np.ndarray | None = None

    def k(self, codes: tuple[str, ...]) -> np.ndarray:
        """Returns of the given reason codes, summed: ``(keys, cutoffs)``."""
        return self.returns[:, :, [_CODE[c] for c in codes]].sum(axis=2, dtype=np.float64)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.to_datetime(self.cutoffs, unit="s", utc=True)


@dataclass
class _ReturnParts:
    """The return events known at the as-of date, aligned with the history's lines.

    ``share`` is the part of its line's units each event brought back (1 for a whole-line return);
    ``code`` the line's reason code (a column of :data:`CODES`): a line's reason is decided once
    (the loader's first reason given among its parts, else inferred).
    """

    line: np.ndarray     # row of each event's line in the history
    t: np.ndarray        # when it was registered (epoch seconds)
    share: np.ndarray    # units returned / units ordered, in (0, 1]
    code: np.ndarray

    @classmethod
    def of(cls, shop: Shop, rh: "ReasonHistory") -> "_ReturnParts":
        events = shop.return_events
        if events is None or events is shop.returns or "quantity" not in events.columns:
            # one return per line: each is a whole line unless its quantity says otherwise
            events = shop.returns
        events = events[epoch_seconds(events["returned_at"], whole=True) < rh.index.as_of_s]
        position = pd.Index(rh.lines["line_id"]).get_indexer(events["line_id"])
        events = events.loc[position >= 0]
        position = position[position >= 0]
        ordered = pd.to_numeric(rh.lines["quantity"], errors="coerce").to_numpy(dtype=float)[position] \
            if "quantity" in rh.lines.columns else np.ones(position.size)
        units = pd.to_numeric(events["quantity"], errors="coerce").to_numpy(dtype=float) \
            if "quantity" in events.columns else ordered
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(np.isfinite(units) & np.isfinite(ordered) & (ordered > 0),
                             np.minimum(units / ordered, 1.0), 1.0)
        line_code = np.full(len(rh.lines), _CODE[NO_REASON], dtype=np.int64)
        line_code[rh.ret_line] = rh.ret_code
        return cls(position, epoch_seconds(events["returned_at"], whole=True), share, line_code[position])


class ReasonHistory:
    """Indexes a shop's history once; answers :class:`Panel` queries at any cut-offs.

    Only orders placed and returns registered strictly before ``as_of`` are used (default:
    :func:`~returnrisk.timeutil.default_as_of`, the data's now; a naive value is UTC).
    """

    def __init__(self, shop: Shop, as_of: pd.Timestamp | None = None, *,
                 window_days: int = DEFAULT_WINDOW_DAYS):
        self.as_of = default_as_of(shop) if as_of is None else to_utc(as_of)
        lines = shop.order_lines[shop.order_lines["ordered_at"] < self.as_of].reset_index(drop=True)
        if lines.empty:
            raise ValueError(f"no order before {self.as_of.isoformat()}")
        attrs = product_attributes(shop.products, lines)
        self.attrs = attrs
        prepared = prepare_lines(lines, attrs)
        self.index = HistoryIndex(attrs, prepared, shop.returns, self.as_of, window_days=window_days)
        h = self.index
        self.lines = h.lines
        self.t = h.t
        self.products = pd.Index(h.products.astype(str))
        self.window_days = window_days

        returns = shop.returns[epoch_seconds(shop.returns["returned_at"], whole=True) < h.as_of_s]
        position = pd.Index(self.lines["line_id"]).get_indexer(returns["line_id"])
        returns = returns.loc[position >= 0]
        self.ret_line = position[position >= 0]
        self.ret_t = epoch_seconds(returns["returned_at"], whole=True)
        codes = returns["reason_code"].astype(object).where(returns["reason_code"].notna(), NO_REASON)
        self.ret_code = codes.map(_CODE).fillna(_CODE["other"]).to_numpy(dtype=np.int64)
        self.return_cost = (pd.to_numeric(returns["return_cost"], errors="coerce").to_numpy(dtype=float)
                            if "return_cost" in returns.columns else np.full(len(returns), np.nan))
        self._parts = _ReturnParts.of(shop, self)
        self._product_returns = self._code_counter(h.line_codes.product)
        self._size_returns = self._code_counter(h.line_codes.product_size)
        self._kept_sd: float | None = None
        log.info("reason history: %d lines, %d returns, %d products, as of %s", len(self.lines),
                 len(self.ret_t), len(self.products), self.as_of.isoformat())

    # ---- counters -------------------------------------------------------------------------------
    def _code_counter(self, line_entity: np.ndarray) -> AsOfCounter:
        """Returns per reason code and entity, each return weighing the share of its line's units."""
        parts = self._parts
        keys = line_entity[parts.line]
        values = np.zeros((keys.size, len(CODES)))
        values[np.arange(keys.size), parts.code] = parts.share
        keep = keys >= 0
        return AsOfCounter(keys[keep], parts.t[keep], values[keep])

    def cutoffs(self, step_days: int) -> np.ndarray:
        """Cut-offs every ``step_days`` back from ``as_of`` to the first order (increasing)."""
        end = self.index.as_of_s
        first = int(day_floor(self.t.min()))
        count = max(1, int(np.ceil((end - first) / (step_days * DAY))) + 1)
        return np.sort(end - np.arange(count, dtype=np.int64) * step_days * DAY)

    # ---- panels ---------------------------------------------------------------------------------
    def product_panel(self, cutoffs: np.ndarray, products: pd.Index | None = None) -> Panel:
        """States of ``products`` (default: all) at each cut-off, with kept-size offsets."""
        keys = self.products if products is None else pd.Index(products).astype(str)
        codes = self.products.get_indexer(keys).astype(np.int64)
        if (codes < 0).any():
            raise KeyError(f"unknown products: {list(keys[codes < 0][:5])}")
        return self._panel("product", codes, keys, np.asarray(cutoffs, dtype=np.int64),
                           self._product_returns, with_fit=True)

    def size_panel(self, pairs: pd.DataFrame, cutoffs: np.ndarray) -> Panel:
        """States of (``product_id``, ``size``) pairs at each cut-off (unknown pairs: zeros)."""
        h = self.index
        product = self.products.get_indexer(pairs["product_id"].astype(str))
        size = h.size_labels.get_indexer(pairs["size"].astype(object).fillna(""))
        codes = np.where((product >= 0) & (size >= 0),
                         product.astype(np.int64) * len(h.size_labels) + size, -1).astype(np.int64)
        keys = pd.Index(pairs["product_id"].astype(str) + "\x1f" + pairs["size"].astype(str))
        return self._panel("product_size", codes, keys, np.asarray(cutoffs, dtype=np.int64),
                           self._size_returns, with_fit=False)

    def _panel(self, entity: str, codes: np.ndarray, keys: pd.Index, cutoffs: np.ndarray,
               counter: AsOfCounter, with_fit: bool) -> Panel:
        e, w = codes.size, cutoffs.size
        flat_codes = np.repeat(codes, w)
        flat_cut = np.tile(cutoffs, e)
        known = flat_codes >= 0
        state = np.zeros((e * w, 2))
        rets = np.zeros((e * w, len(CODES)))
        if known.any():
            state[known] = self.index.state(entity, flat_codes[known], flat_cut[known])[:, :2]
            rets[known] = counter.query_unique(flat_codes[known], flat_cut[known])
        # counts are whole numbers: float32 holds them exactly and halves the largest array
        panel = Panel(keys, cutoffs, state[:, 0].reshape(e, w), state[:, 1].reshape(e, w),
                      rets.reshape(e, w, len(CODES)).astype(np.float32))
        if with_fit:
            fit = self.index.fit_offset(flat_codes, flat_cut)
            panel.kept_sum = fit[:, 0].reshape(e, w)
            panel.kept_count = fit[:, 1].reshape(e, w)
        return panel

    # ---- helpers for impact ---------------------------------------------------------------------
    def kept_distance_sd(self) -> float:
        """Spread (size steps) of the kept sizes around customers' usual size, shop-wide.

        A robust standard deviation (1.4826 × MAD) over lines kept at ``as_of`` whose customer
        had a usual size; clipped to [0.3, 1.5]. Used as the noise of kept-size offsets.
        """
        if self._kept_sd is None:
            h = self.index
            codes = h.line_codes
            profile = h.profile(codes.customer_system, day_floor(self.t))
            usual = np.where(profile[:, 1] > 0, profile[:, 0] / np.maximum(profile[:, 1], 1e-9), np.nan)
            distance = self.lines["size_ordinal"].to_numpy(dtype=float) - usual
            returned = np.zeros(len(self.lines), dtype=bool)
            returned[self.ret_line] = True
            matured = self.t < h.as_of_s - self.window_days * DAY
            d = distance[np.isfinite(distance) & ~returned & matured]
            if d.size < 30:
                self._kept_sd = 0.6
            else:
                mad = float(np.median(np.abs(d - np.median(d))))
                self._kept_sd = float(np.clip(1.4826 * mad if mad > 0 else d.std(), 0.3, 1.5))
        return self._kept_sd

    def recent_lines(self, since: pd.Timestamp) -> pd.DataFrame:
        """Lines ordered at or after ``since`` (before ``as_of``)."""
        return self.lines[self.lines["ordered_at"] >= since]

    def product_return_costs(self) -> pd.Series:
        """Mean known ``return_cost`` per product (NaN where none is known)."""
        product = self.lines["product_id"].astype(str).to_numpy()[self.ret_line]
        frame = pd.DataFrame({"product_id": product, "cost": self.return_cost})
        return frame.dropna().groupby("product_id")["cost"].mean()
