"""The training frame: every line known at ``as_of``, its features at its own cut-off, its label.

Labels and maturity
-------------------
A line ordered less than ``window_days`` before ``as_of`` is *immature*: its outcome is not
known yet, so it is neither a positive nor a negative and is left out of training and
evaluation labels — even if it was already returned, since keeping its early returns while
dropping its siblings still in their window would bias the labels. A matured line is
*returned* if a return was registered for it before ``as_of`` (its outcome is then the
return's reason group) and *kept* otherwise.

Point in time
-------------
Each line's cut-off is the start of its order day (UTC); its history features use only orders
and returns strictly before that cut-off (see :mod:`returnrisk.features.history`). Training at
``as_of`` on a full history therefore gives the same frame as training on the history
truncated at ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import positions, release_arrow_memory
from returnrisk.data.loader import Shop
from returnrisk.features.attributes import product_attributes
from returnrisk.features.catalog import FEATURE_NAMES
from returnrisk.features.derive import Smoothing, derive_features
from returnrisk.features.history import HistoryIndex
from returnrisk.features.lines import Vocabulary, line_inputs, order_context
from returnrisk.sizes import SIZE_SYSTEMS
from returnrisk.timeutil import DAY, DEFAULT_WINDOW_DAYS, day_floor, default_as_of, epoch_seconds, to_utc

__all__ = ["TrainingFrame", "build_training_frame", "index_shop", "frame_from_history", "outcomes_at", "KEPT_CLASS", "IMMATURE", "prepare_lines"]

KEPT_CLASS = 0
IMMATURE = -1
_CHUNK_LINES = 1_000_000


@dataclass
class TrainingFrame:
    """Features and outcomes of the lines known at ``as_of``.

    ``outcome`` is ``-1`` (immature), ``0`` (kept) or ``1 + index`` of the reason group in
    :data:`~returnrisk.taxonomy.RETURN_GROUPS`.
    """

    X: np.ndarray
    outcome: np.ndarray
    lines: pd.DataFrame
    as_of: pd.Timestamp
    window_days: int
    history: HistoryIndex
    attrs: pd.DataFrame
    vocabulary: Vocabulary

    @property
    def mature(self) -> np.ndarray:
        return self.outcome != IMMATURE

    @property
    def returned(self) -> np.ndarray:
        return self.outcome > KEPT_CLASS

    @property
    def n_immature(self) -> int:
        return int((self.outcome == IMMATURE).sum())


def prepare_lines(lines: pd.DataFrame, attrs: pd.DataFrame) -> pd.DataFrame:
    """Lines with their product's size system and the ordinal of their size in it."""
    from returnrisk.features.attributes import size_position

    out = lines.copy()
    position = positions(out["product_id"], attrs.index)
    systems = attrs["size_system"].to_numpy(dtype=object)
    out["size_system"] = np.where(position >= 0, systems[np.maximum(position, 0)], "unsized")
    out["size_ordinal"], _ = size_position(out["size"], out["size_system"].to_numpy())
    return out


def build_training_frame(
    shop: Shop, as_of: pd.Timestamp | None = None, *, window_days: float = DEFAULT_WINDOW_DAYS,
    smoothing: Smoothing = Smoothing(), knots_days: tuple[float, float] = (7, 14), kept_after_days: float = 14,
) -> TrainingFrame:
    """Build the frame of every line ordered before ``as_of`` (default: the data's now,
    :func:`~returnrisk.timeutil.default_as_of`).

    ``knots_days`` and ``kept_after_days`` tune the history (see
    :class:`~returnrisk.features.history.HistoryIndex`) for shops whose outcomes are known sooner.
    The same as :func:`index_shop` then :func:`frame_from_history` (a caller may drop the shop
    in between: the history holds what the frame needs).
    """
    history, vocabulary = index_shop(shop, as_of, window_days=window_days, smoothing=smoothing,
                                     knots_days=knots_days, kept_after_days=kept_after_days)
    return frame_from_history(history, vocabulary, smoothing)


def index_shop(
    shop: Shop, as_of: pd.Timestamp | None = None, *, window_days: float = DEFAULT_WINDOW_DAYS,
    smoothing: Smoothing = Smoothing(), knots_days: tuple[float, float] = (7, 14), kept_after_days: float = 14,
) -> tuple[HistoryIndex, Vocabulary]:
    """The event history of the lines ordered before ``as_of`` and the categorical vocabulary.

    ``as_of`` defaults to :func:`~returnrisk.timeutil.default_as_of` (one second after the last
    order, return or refund); a naive value is UTC.
    """
    as_of = default_as_of(shop) if as_of is None else to_utc(as_of)
    before = (shop.order_lines["ordered_at"] < as_of).to_numpy()
    lines = shop.order_lines if before.all() else shop.order_lines[before].reset_index(drop=True)
    attrs = product_attributes(shop.products, lines)
    vocabulary = Vocabulary(
        sorted(shop.products["category"].dropna().astype(str).unique()),
        sorted(shop.products["brand"].dropna().astype(str).unique()),
        list(SIZE_SYSTEMS),
    )
    lines = prepare_lines(lines, attrs)
    history = HistoryIndex(attrs, lines, shop.returns, as_of, window_days=window_days, knots_days=knots_days,
                           kept_after_days=kept_after_days, offset_strength=smoothing.fit_offset,
                           brand_offset_strength=smoothing.brand_fit_offset)
    return history, vocabulary


def frame_from_history(history: HistoryIndex, vocabulary: Vocabulary, smoothing: Smoothing = Smoothing()) -> TrainingFrame:
    """The training frame of every line of ``history``, each at its own cut-off."""
    lines, attrs = history.lines, history.attrs
    t = history.t
    cutoffs = day_floor(t)
    X = features_from_history(history, lines, cutoffs, attrs, vocabulary, smoothing)

    meta = lines[["line_id", "order_id", "customer_id", "product_id", "size", "ordered_at",
                  "unit_price", "quantity", "size_system", "size_ordinal"]].copy()
    product = history.line_codes.product   # position in attrs (the history's product index), -1 if unknown
    for column in ("category", "brand"):
        values = attrs[column].to_numpy(dtype=object)[np.maximum(product, 0)]
        meta[column] = np.where(product >= 0, values, None)
    meta["cutoff"] = cutoffs
    frame = TrainingFrame(X, np.empty(0, dtype=np.int8), meta, history.as_of, history.window_days, history,
                          attrs, vocabulary)
    frame.outcome = outcomes_at(frame, history.as_of)
    return frame


def features_from_history(history: HistoryIndex, lines: pd.DataFrame, cutoffs: np.ndarray,
                          attrs: pd.DataFrame, vocabulary: Vocabulary,
                          smoothing: Smoothing) -> np.ndarray:
    """Features of ``lines`` at ``cutoffs`` from the event history (no snapshot involved)."""
    codes = history.line_codes if lines is history.lines else history.codes_for(lines)
    known = history.line_history(codes, cutoffs, history.system_code(lines["size_system"]))
    order = order_context(lines)
    X = np.empty((len(lines), len(FEATURE_NAMES)), dtype=np.float32)
    # line inputs and derived features by chunks: their temporaries stay small on large histories
    for start in range(0, len(lines), _CHUNK_LINES):
        part = slice(start, min(start + _CHUNK_LINES, len(lines)))
        part_lines = lines.iloc[part]
        rows = attrs.reindex(part_lines["product_id"].astype(object)).reset_index(drop=True)
        rows["size_system"] = part_lines["size_system"].to_numpy()
        inputs = line_inputs(part_lines, rows, vocabulary, cutoffs[part],
                             order={name: values[part] for name, values in order.items()})
        X[part] = derive_features(known.rows(part), inputs, smoothing)
    release_arrow_memory()
    return X


def outcomes_at(frame: TrainingFrame, when: pd.Timestamp) -> np.ndarray:
    """Outcomes of the frame's lines as they were known at ``when`` (≤ the frame's ``as_of``).

    Lines not matured at ``when`` are immature (``-1``); returns registered after ``when`` are
    not known yet.
    """
    when_s = int(epoch_seconds(when, whole=True))
    history = frame.history
    out = np.full(len(frame.lines), IMMATURE, dtype=np.int8)
    matured = history.t < when_s - frame.window_days * DAY
    out[matured] = KEPT_CLASS
    known = history.ret_t < when_s
    lines, groups = history.ret_line[known], history.ret_group[known]
    keep = matured[lines]
    out[lines[keep]] = 1 + groups[keep].astype(np.int8)
    return out
