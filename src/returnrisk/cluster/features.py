"""Point-in-time features on the cluster: the single-process history, run shard by shard.

Every state a feature reads is a sum of events of one key (a customer, a product, a brand…)
before a cut-off, so a shard that holds *all* the events of its keys computes exactly what the
single-process :class:`~returnrisk.features.history.HistoryIndex` computes for them. Three
kinds of keys:

* **customers** (their states, size profiles, body sizes, order context): lines are sharded by
  customer; each customer shard is the lines' *home*, where the features are assembled by the
  single-process :func:`~returnrisk.features.build.frame_from_history`;
* **products** (product and product-size states, fit offsets): lines are sharded by product; the
  results go back to each line's customer shard;
* **small entities** (the shop, categories, brands, brand fit offsets, size-system moments, the
  return-delay curve): each customer shard sums its own events at every (key, day) of the
  history; the sums are added over shards and the resulting tables broadcast.

The passes follow the history's own dependencies: (1) customer shards: each line's distance from
its customer's usual size (labelled sizes), small-entity sums; (2) product shards: product
states and fit offsets (from those distances); (3) customer shards: sizes corrected by each
product's fit, profiles, body sizes, and the feature matrix. The serving snapshot is assembled
from the final states of every shard.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.cluster.exchange import exchange, hold, shard_of, split_on
from returnrisk.features.attributes import product_attributes
from returnrisk.features.build import TrainingFrame, frame_from_history, outcomes_at, prepare_lines
from returnrisk.features.derive import Smoothing
from returnrisk.features.history import (
    STATE_COLUMNS,
    HistoryIndex,
    LineHistory,
    delay_from_counts,
    moments_from_sums,
    size_offset,
    states_from_sums,
)
from returnrisk.features.lines import Vocabulary
from returnrisk.features.snapshot import PRODUCT_COLUMNS, Snapshot, _key, _sizes_sold
from returnrisk.sizes import SIZE_SYSTEMS
from returnrisk.timeutil import DAY, day_floor, epoch_seconds, to_utc

__all__ = ["ShardFrame", "ClusterFeatures", "build_cluster_features", "GlobalTables"]

log = logging.getLogger(__name__)
_SMALL = ("shop", "category", "brand")
_ORDER_SHIFT = 40   # _order = part index << 40 | row position: the single-process line order


# ---- the small entities' tables -------------------------------------------------------------------
@dataclass
class GlobalTables:
    """States of the small entities at every cut-off of the history (broadcast to every shard)."""

    grid: np.ndarray                     # sorted cut-offs (day starts, then as-of)
    delay: tuple[np.ndarray, np.ndarray]  # F(k1), F(k2) at each cut-off
    states: dict[str, np.ndarray]        # entity -> (codes, cut-offs, STATE_COLUMNS)
    brand_offset: np.ndarray             # (brands, cut-offs, 2): kept-distance sum and count
    moments: np.ndarray                  # (systems, cut-offs, 2): mean and sd of kept sizes

    def at(self, cutoffs: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.grid, cutoffs)
        if index.size and (index.max() >= self.grid.size or (self.grid[index] != cutoffs).any()):
            raise ValueError("a cut-off outside the history's grid")
        return index

    def delay_curve(self, cutoffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = self.at(np.asarray(cutoffs, dtype=np.int64))
        return self.delay[0][index], self.delay[1][index]

    def lookup(self, table: np.ndarray, codes: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.int64)
        index = self.at(np.asarray(cutoffs, dtype=np.int64))
        if table.shape[0] == 0:   # no such entity in the shop (e.g. a catalogue without brands)
            return np.zeros((codes.size,) + table.shape[2:], dtype=table.dtype)
        out = table[np.maximum(codes, 0), index]
        out[codes < 0] = 0.0
        return out

    def system_moments(self, system: np.ndarray, cutoffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = self.lookup(self.moments, system, cutoffs)
        return values[:, 0], values[:, 1]


def _grid_queries(n_codes: int, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.arange(n_codes, dtype=np.int64), grid.size), np.tile(grid, n_codes)


def _small_sums(history: HistoryIndex, grid: np.ndarray) -> dict[str, np.ndarray]:
    """This shard's as-of sums of every small entity at every (code, cut-off) of the grid."""
    k1, k2, w = history.knots_s[0], history.knots_s[1], history.window_s
    sizes = {"shop": 1, "category": len(history.categories), "brand": len(history.brands)}
    out = {}
    for entity in _SMALL:
        keys, times = _grid_queries(sizes[entity], grid)
        counter = history._rate_counter(getattr(history.line_codes, entity))  # noqa: SLF001
        now, a1, a2, aw = counter.query_offsets(keys, times, [0, k1, k2, w],
                                                [None, slice(0, 2), slice(0, 2), slice(0, 2)])
        out[entity] = np.hstack([now, a1, a2, aw])
    keys, times = _grid_queries(len(history.brands), grid)
    out["brand_offset"] = history._kept_distance_events(history.line_codes.brand).query(keys, times)  # noqa: SLF001
    keys, times = _grid_queries(len(history.systems), grid)
    out["systems"] = history._system_counter().query(keys, times)  # noqa: SLF001
    out["delay"] = history._delay.query(np.zeros(grid.size, dtype=np.int64), grid)  # noqa: SLF001
    return out


def _add_sums(parts: list[dict]) -> dict:
    out = {k: v.copy() for k, v in parts[0].items()}
    for part in parts[1:]:
        for k, v in part.items():
            out[k] += v
    return out


def _global_tables(sums: dict, grid: np.ndarray, n: dict[str, int], knots_s, window_s) -> GlobalTables:
    delay = delay_from_counts(sums["delay"])
    states = {}
    ncol = len(STATE_COLUMNS)
    for entity in _SMALL:
        raw = sums[entity]
        now, a1, a2, aw = raw[:, :ncol], raw[:, ncol:ncol + 2], raw[:, ncol + 2:ncol + 4], raw[:, ncol + 4:]
        _, times = _grid_queries(n[entity], grid)
        tiled = (np.tile(delay[0], n[entity]), np.tile(delay[1], n[entity]))
        states[entity] = states_from_sums(now, a1, a2, aw, times, tiled, knots_s, window_s).reshape(
            n[entity], grid.size, ncol)
    mean, sd = moments_from_sums(sums["systems"])
    moments = np.stack([mean, sd], axis=1).reshape(n["systems"], grid.size, 2)
    return GlobalTables(grid, delay, states, sums["brand_offset"].reshape(n["brand"], grid.size, 2), moments)


# ---- histories of one shard -----------------------------------------------------------------------
class _ShardHistory(HistoryIndex):
    """A :class:`HistoryIndex` on one shard whose small-entity answers come from the global tables."""

    def __init__(self, attrs, lines, returns, as_of, *, tables: GlobalTables | None = None, **kwargs):
        self._tables = tables
        super().__init__(attrs, lines, returns, as_of, **kwargs)

    def delay_curve(self, cutoffs):
        return self._tables.delay_curve(cutoffs)

    def system_moments(self, system, cutoffs):
        return self._tables.system_moments(system, cutoffs)

    def brand_offset(self, brand, cutoffs):
        return self._tables.lookup(self._tables.brand_offset, brand, cutoffs)


class _CustomerShardHistory(_ShardHistory):
    """The home of a shard's lines: product answers arrive per line from the product shards."""

    def set_product_answers(self, answers: pd.DataFrame) -> None:
        at = np.searchsorted(answers["_order"].to_numpy(), self.lines["_order"].to_numpy())
        if len(answers) != len(self.lines) or (answers["_order"].to_numpy()[at] != self.lines["_order"].to_numpy()).any():
            raise RuntimeError("product answers do not match the shard's lines: a partition was lost or mixed up")
        values = answers.drop(columns=["_order", "_cshard"]).to_numpy()
        ncol = len(STATE_COLUMNS)
        self._product_state = values[at, :ncol].astype(np.float32)
        self._product_size_state = values[at, ncol:2 * ncol].astype(np.float32)
        self._product_offset = values[at, 2 * ncol:2 * ncol + 2].astype(np.float64)

    def true_to_size_ordinal(self):
        if self._corrected is None:
            brand = self.brand_offset(self.line_codes.brand, day_floor(self.t))
            offset = size_offset(self._product_offset, brand, self.offset_strength, self.brand_offset_strength)
            self._corrected = self.lines["size_ordinal"].to_numpy(dtype=float) - offset
        return self._corrected

    def line_history(self, codes, cutoffs, system) -> LineHistory:
        if codes is not self.line_codes:
            raise ValueError("a customer shard describes its own lines only")
        tables = self._tables
        mean, sd = self.system_moments(np.maximum(system, 0), cutoffs)
        unknown_system = system < 0
        states = {entity: tables.lookup(tables.states[entity], getattr(codes, entity), cutoffs).astype(np.float32)
                  for entity in _SMALL}
        states["product"] = self._product_state
        states["product_size"] = self._product_size_state
        states["customer"] = self.state("customer", codes.customer, cutoffs, dtype=np.float32, per_pair=True)
        return LineHistory(
            states=states,
            profile=self.profile(codes.customer_system, cutoffs).astype(np.float32),
            fit_offset=np.hstack([self._product_offset, self.brand_offset(codes.brand, cutoffs)]).astype(np.float32),
            body=self.body(codes.customer, cutoffs).astype(np.float32),
            moments=np.stack([np.where(unknown_system, np.nan, mean),
                              np.where(unknown_system, np.nan, sd)], axis=1).astype(np.float32),
        )


# ---- the passes (run on the workers) --------------------------------------------------------------
@dataclass
class _Setting:
    attrs: pd.DataFrame
    as_of: pd.Timestamp
    history: dict          # HistoryIndex keyword arguments
    shards: int


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    if not len(frame):
        return frame
    return frame.sort_values("_order", kind="stable").reset_index(drop=True)


def _returns_frame(returns: pd.DataFrame) -> pd.DataFrame:
    if not len(returns):
        return pd.DataFrame({"line_id": pd.Series([], dtype="string[pyarrow]"),
                             "returned_at": pd.Series([], dtype="datetime64[ns, UTC]"),
                             "reason_group": pd.Series([], dtype=object)})
    return returns[["line_id", "returned_at", "reason_group"]].reset_index(drop=True)


def _part_pairs(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return lines.loc[lines["ordered_at"] < as_of, ["product_id", "size"]].drop_duplicates()


def _prepare_part(lines: pd.DataFrame, part: int, setting: _Setting) -> pd.DataFrame:
    """The part's lines known at as-of, with their size system and ordinal, in the history's order."""
    known = lines[lines["ordered_at"] < setting.as_of].reset_index(drop=True)
    out = prepare_lines(known, setting.attrs)
    out["_order"] = (np.int64(part) << _ORDER_SHIFT) | known["_pos"].to_numpy(dtype=np.int64)
    return out.drop(columns=["_pos"])


def _customer_pass(lines: pd.DataFrame, returns: pd.DataFrame, setting: _Setting, grid: np.ndarray):
    """Pass 1: each line's distance from its customer's usual size; this shard's small-entity sums."""
    lines = _sorted(lines)
    history = HistoryIndex(setting.attrs, lines, _returns_frame(returns), setting.as_of, **setting.history)
    distance = history._usual_size_distance()  # noqa: SLF001 (labelled sizes: exact on a customer shard)
    return pd.DataFrame({"_order": lines["_order"].to_numpy(), "distance": distance}), _small_sums(history, grid)


def _with_distance(lines: pd.DataFrame, distances: pd.DataFrame) -> pd.DataFrame:
    lines = _sorted(lines)
    if len(lines):
        lines["distance"] = distances["distance"].to_numpy()
        assert (distances["_order"].to_numpy() == lines["_order"].to_numpy()).all()
    return lines


def _product_pass(lines: pd.DataFrame, returns: pd.DataFrame, setting: _Setting, tables: GlobalTables, shard: int):
    """Pass 2: product and product-size states and fit offsets of every line of this product shard,
    with each line's customer shard (``_cshard``); and the shard's end-of-data states for the snapshot."""
    lines = _sorted(lines)
    history = _ShardHistory(setting.attrs, lines, _returns_frame(returns), setting.as_of, tables=tables,
                            **setting.history)
    history._distance = lines["distance"].to_numpy(dtype=float)  # noqa: SLF001 (from the customer shards)
    codes, cutoffs = history.line_codes, day_floor(history.t)
    ncol = len(STATE_COLUMNS)
    # states travel as float32 (the home shard keeps them as float32: the same values, half the bytes)
    states = np.hstack([history.state("product", codes.product, cutoffs),
                        history.state("product_size", codes.product_size, cutoffs)]).astype(np.float32)
    answers = pd.DataFrame(states, columns=[f"p{i}" for i in range(ncol)] + [f"s{i}" for i in range(ncol)])
    answers[["fo_sum", "fo_n"]] = history.fit_offset(codes.product, cutoffs)
    answers.insert(0, "_order", lines["_order"].to_numpy())
    answers["_cshard"] = lines["_cshard"].to_numpy()

    mine = shard_of(pd.Series(history.products), setting.shards) == shard
    products = history.products[mine].astype(str)
    ps_codes = history.entity_codes("product_size")
    labels = len(history.size_labels)
    finals = {
        "product": pd.DataFrame(history.final_state("product")[mine], index=pd.Index(products, name="key"),
                                columns=list(STATE_COLUMNS)),
        "product_size": pd.DataFrame(
            history.final_state("product_size"),
            index=pd.Index(_key(pd.Series(history.products.to_numpy()[ps_codes // labels]),
                                pd.Series(history.size_labels.to_numpy()[ps_codes % labels])).to_numpy(), name="key"),
            columns=list(STATE_COLUMNS)),
        "fit_offsets": pd.DataFrame(history.final_of("fit_offset")[mine], index=pd.Index(products, name="key"),
                                    columns=["distance_sum", "count"]),
        "sizes": _sizes_sold(history) if len(lines) else None,
    }
    return answers, finals


@dataclass
class ShardFrame:
    """What the fit and the evaluation need of one customer shard's lines (kept on its worker)."""

    X: np.ndarray
    t: np.ndarray                  # order time, seconds
    ordered_ns: np.ndarray          # order time, nanoseconds (the champion comparison)
    outcome: np.ndarray             # outcome known at as-of
    outcome_validation: np.ndarray  # outcome known at the validation start
    line_id: np.ndarray
    product: np.ndarray             # product code (position in the catalogue)
    shard: int

    def __len__(self) -> int:
        return len(self.t)


def _home_pass(lines: pd.DataFrame, returns: pd.DataFrame, answers: pd.DataFrame, setting: _Setting,
               tables: GlobalTables, vocabulary: Vocabulary, smoothing: Smoothing, validation_start, shard: int):
    """Pass 3: the shard's feature matrix and outcomes; its customers' end-of-data states."""
    lines = _sorted(lines)
    history = _CustomerShardHistory(setting.attrs, lines, _returns_frame(returns), setting.as_of, tables=tables,
                                    **setting.history)
    history.set_product_answers(_sorted(answers))
    frame: TrainingFrame = frame_from_history(history, vocabulary, smoothing)
    prof = history.final_of("profile")
    with_signal = prof[:, 1] > 0
    cs_codes = history.final_codes("profile")[with_signal]
    body = history.final_of("body")
    with_body = body[:, 1] > 0
    finals = {
        "customer": pd.DataFrame(history.final_state("customer"),
                                 index=pd.Index(history.customers.astype(str), name="key"), columns=list(STATE_COLUMNS)),
        "profiles": pd.DataFrame(prof[with_signal], index=pd.Index(
            _key(pd.Series(history.customers.to_numpy()[cs_codes // 16]),
                 pd.Series(history.systems.to_numpy()[cs_codes % 16])).to_numpy(), name="key"),
            columns=["signal", "count", "kept"]),
        "bodies": pd.DataFrame(body[with_body], index=pd.Index(history.customers[with_body].astype(str), name="key"),
                               columns=["z_sum", "z_count"]),
        "first_sale": _first_sales(history),
    }
    shard_frame = ShardFrame(
        X=frame.X, t=history.t, ordered_ns=frame.lines["ordered_at"].astype("datetime64[ns, UTC]").astype("int64").to_numpy(),
        outcome=frame.outcome, outcome_validation=outcomes_at(frame, validation_start),
        line_id=frame.lines["line_id"].astype(str).to_numpy(), product=history.line_codes.product.copy(), shard=shard)
    return shard_frame, finals


def _first_sales(history: HistoryIndex) -> np.ndarray:
    product = history.line_codes.product
    first = np.full(len(history.products), np.iinfo(np.int64).max)
    known = product >= 0
    np.minimum.at(first, product[known], history.t[known])
    return first


# ---- the client's side ----------------------------------------------------------------------------
@dataclass
class ClusterFeatures:
    """The training frame, sharded on the workers, and everything the snapshot needs."""

    frames: list                    # futures of ShardFrame
    sizes: list[int]
    snapshot: Snapshot
    as_of: pd.Timestamp
    first_sale: np.ndarray          # per product code, seconds (INT64 max: never sold)
    attrs: pd.DataFrame
    vocabulary: Vocabulary
    n_lines: int


def build_cluster_features(client, shop, as_of: pd.Timestamp, validation_start: pd.Timestamp, *,
                           window_days: float, smoothing: Smoothing, knots_days=(7, 14),
                           kept_after_days: float = 14) -> ClusterFeatures:
    """The sharded training frame and the serving snapshot of a shop loaded on the cluster."""
    shards = shop.shards
    pairs = pd.concat(client.gather([client.submit(_part_pairs, p, as_of) for p in shop.line_parts]),
                      ignore_index=True).drop_duplicates(ignore_index=True)
    attrs = product_attributes(shop.products, pairs)
    vocabulary = Vocabulary(sorted(shop.products["category"].dropna().astype(str).unique()),
                            sorted(shop.products["brand"].dropna().astype(str).unique()), list(SIZE_SYSTEMS))
    setting = _Setting(attrs, to_utc(as_of), {
        "window_days": window_days, "knots_days": knots_days, "kept_after_days": kept_after_days,
        "offset_strength": smoothing.fit_offset, "brand_offset_strength": smoothing.brand_fit_offset}, shards)
    setting_f = hold(client, setting, "feature-setting")
    # Futures are dropped on the client as soon as their consumers are submitted: Dask keeps a result
    # only while a task still needs it, so at most about two copies of the lines are in memory at
    # once. A worker lost meanwhile is still recovered: the scheduler keeps every task of the graph
    # behind a wanted result and recomputes what was lost (from the loaded parts, which the client holds).
    lines = [client.submit(_prepare_part, part, i, setting_f) for i, part in enumerate(shop.line_parts)]
    first, last = shop.first_order, min(shop.last_order, as_of)
    as_of_s = int(epoch_seconds(as_of, whole=True))
    grid = np.unique(np.append(np.arange(int(day_floor(epoch_seconds(first, whole=True))),
                                         int(day_floor(epoch_seconds(last, whole=True))) + DAY, DAY),
                               as_of_s)).astype(np.int64)

    # pass 1: customer shards
    c_lines = exchange(client, lines, split_on, shards, name="lines-by-customer", column="_cshard")
    c_returns = exchange(client, shop.return_parts, split_on, shards, name="returns-by-customer", column="_cshard")
    del lines
    first_pass = [client.submit(_customer_pass, lk, rk, setting_f, grid) for lk, rk in zip(c_lines, c_returns)]
    distances = [client.submit(operator.getitem, f, 0) for f in first_pass]
    partial = [client.submit(operator.getitem, f, 1) for f in first_pass]
    del first_pass
    sums = client.submit(_add_sums, partial).result()
    del partial
    n = {"shop": 1, "category": len(pd.unique(attrs["category"].astype(object))),
         "brand": len(pd.unique(attrs["brand"].astype(object).dropna())),
         "systems": len(pd.unique(attrs["size_system"].astype(object)))}
    knots_s = tuple(int(k * DAY) for k in knots_days)
    window_s = int(window_days * DAY)
    tables = _global_tables(sums, grid, n, knots_s, window_s)
    tables_f = hold(client, tables, "small-entity-tables")

    # pass 2: product shards (each line with its distance)
    with_distance = [client.submit(_with_distance, lk, dk) for lk, dk in zip(c_lines, distances)]
    del distances
    p_lines = exchange(client, with_distance, split_on, shards, name="lines-by-product", column="_pshard")
    p_returns = exchange(client, shop.return_parts, split_on, shards, name="returns-by-product", column="_pshard")
    del with_distance
    second = [client.submit(_product_pass, lk, rk, setting_f, tables_f, k)
              for k, (lk, rk) in enumerate(zip(p_lines, p_returns))]
    del p_lines, p_returns
    answers_out = [client.submit(operator.getitem, s, 0) for s in second]
    product_finals_f = [client.submit(operator.getitem, s, 1) for s in second]
    del second
    back = exchange(client, answers_out, split_on, shards, _concat_sorted, name="answers-by-customer",
                    column="_cshard")
    del answers_out
    product_finals = client.gather(product_finals_f)
    del product_finals_f

    # pass 3: home (customer) shards
    third = [client.submit(_home_pass, lk, rk, ak, setting_f, tables_f, vocabulary, smoothing, validation_start, k)
             for k, (lk, rk, ak) in enumerate(zip(c_lines, c_returns, back))]
    del c_lines, c_returns, back
    frames = [client.submit(operator.getitem, f, 0) for f in third]
    home_finals_f = [client.submit(operator.getitem, f, 1) for f in third]
    del third
    home_finals = client.gather(home_finals_f)
    del home_finals_f
    sizes = client.gather([client.submit(len, f) for f in frames])

    first_sale = np.minimum.reduce([f["first_sale"] for f in home_finals])
    snapshot = _snapshot(attrs, vocabulary, smoothing, window_days, setting.as_of, tables, product_finals, home_finals)
    return ClusterFeatures(frames, sizes, snapshot, setting.as_of, first_sale, attrs, vocabulary, int(sum(sizes)))


def _concat_sorted(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    pieces = [p for p in pieces if len(p)]
    return _sorted(pd.concat(pieces, ignore_index=True)) if pieces else pd.DataFrame({"_order": []})


def _snapshot(attrs, vocabulary, smoothing, window_days, as_of, tables: GlobalTables, product_finals,
              home_finals) -> Snapshot:
    """The serving snapshot from every shard's end-of-data states (the same tables as one process builds)."""
    at = tables.grid.size - 1   # as-of: the grid's last cut-off
    categories = pd.Index(pd.unique(attrs["category"].astype(object)))
    brands = pd.Index(pd.unique(attrs["brand"].astype(object).dropna()))
    systems = pd.Index(pd.unique(attrs["size_system"].astype(object)))
    states = {
        "shop": pd.DataFrame(tables.states["shop"][:, at], index=pd.Index(["shop"], name="key"), columns=list(STATE_COLUMNS)),
        "category": pd.DataFrame(tables.states["category"][:, at], index=pd.Index(categories.astype(str), name="key"),
                                 columns=list(STATE_COLUMNS)),
        "brand": pd.DataFrame(tables.states["brand"][:, at], index=pd.Index(brands.astype(str), name="key"),
                              columns=list(STATE_COLUMNS)),
    }
    products = attrs.index.astype(str)
    states["product"] = pd.concat([f["product"] for f in product_finals]).reindex(products).rename_axis("key")
    states["product_size"] = pd.concat([f["product_size"] for f in product_finals])
    states["customer"] = pd.concat([f["customer"] for f in home_finals])
    profiles = pd.concat([f["profiles"] for f in home_finals])
    bodies = pd.concat([f["bodies"] for f in home_finals])
    fit_offsets = pd.concat([f["fit_offsets"] for f in product_finals]).reindex(products).rename_axis("key")
    brand_offsets = pd.DataFrame(tables.brand_offset[:, at], index=pd.Index(brands.astype(str), name="key"),
                                 columns=["distance_sum", "count"])
    moments = pd.DataFrame(tables.moments[:, at], index=pd.Index(systems.astype(str), name="key"),
                           columns=["mean", "sd"])
    sizes = pd.concat([f["sizes"] for f in product_finals if f["sizes"] is not None], ignore_index=True)
    sizes = sizes.sort_values(["product_id", "ordinal", "size"], na_position="last").reset_index(drop=True)
    table = attrs.copy()
    table.index = table.index.astype(str)
    table.index.name = "product_id"
    return Snapshot(as_of, window_days, smoothing, vocabulary, table[list(PRODUCT_COLUMNS)], sizes, states,
                    profiles, bodies, fit_offsets, brand_offsets, moments)
