"""What the shop knew, entity by entity, at any cut-off: sales, exposure, returns by reason.

For each entity (the whole shop, a category, a brand, a product, a product in one size, a
customer) the *state* at a cut-off ``c`` is computed from events strictly before ``c`` only:

``n``
    lines sold before ``c``;
``exposure``
    how many of those lines could have come back by ``c``: a matured line counts 1, a line
    ``a`` days old counts ``F(a)``, the share of returns that arrive within ``a`` days (the
    shop's return-delay curve, itself learnt from returns completed before ``c``);
``r_total`` and ``r_<group>``
    returns registered before ``c``, in total and per reason group.

``returns / exposure`` is then an unbiased return rate even for a product launched last week.
Two more states serve size advice: the customer's *size profile* per size system (what they
kept, and what they sent back as too small / too large, one size step off) and the product's
*fit offset* (how far from their usual size the customers who kept it ordered).

Everything is an :class:`~returnrisk.features.asof.AsOfCounter` query, so the same code gives
the state of every training line at its own cut-off and the serving snapshot at the end of
the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import first_seen, positions, release_arrow_memory
from returnrisk.features.asof import AsOfCounter
from returnrisk.taxonomy import RETURN_GROUPS
from returnrisk.timeutil import DAY, DEFAULT_WINDOW_DAYS, day_floor, epoch_seconds, to_utc

__all__ = [
    "HistoryIndex",
    "LineHistory",
    "PairStates",
    "RATE_ENTITIES",
    "STATE_COLUMNS",
    "states_from_sums",
    "moments_from_sums",
    "delay_from_counts",
    "size_offset",
]

#: Entities with sales/returns state, and the line column holding their code.
RATE_ENTITIES: tuple[str, ...] = ("shop", "category", "brand", "product", "product_size", "customer")
STATE_COLUMNS: tuple[str, ...] = ("n", "exposure", "r_total") + tuple(f"r_{g}" for g in RETURN_GROUPS)
_DELAY_PRIOR = (0.35, 0.75)   # share of returns arriving within the two knots, before data says
_DELAY_PRIOR_WEIGHT = 50.0


def states_from_sums(now: np.ndarray, at_k1: np.ndarray, at_k2: np.ndarray, at_w: np.ndarray,
                     cutoffs: np.ndarray, delay: tuple[np.ndarray, np.ndarray], knots_s: tuple[int, int],
                     window_s: int, dtype=np.float64) -> np.ndarray:
    """Entity states (:data:`STATE_COLUMNS`) from the as-of sums of a rate counter.

    ``now`` holds the sums at each cut-off (sales, sum of sale days, returns in total and per
    group), ``at_k1`` / ``at_k2`` / ``at_w`` the first two sums one knot / two knots / one window
    earlier; ``delay`` is ``(F(k1), F(k2))`` at the cut-offs. Sums are additive over events, so
    sums taken on disjoint parts of the history and added give the same states (the cluster
    path's small entities rely on it).
    """
    k1, k2, w = knots_s[0], knots_s[1], window_s
    f1, f2 = delay
    c = np.asarray(cutoffs) / DAY
    d1, d2, dw = k1 / DAY, k2 / DAY, w / DAY
    n_a, s_a = now[:, 0] - at_k1[:, 0], now[:, 1] - at_k1[:, 1]
    n_b, s_b = at_k1[:, 0] - at_k2[:, 0], at_k1[:, 1] - at_k2[:, 1]
    n_c, s_c = at_k2[:, 0] - at_w[:, 0], at_k2[:, 1] - at_w[:, 1]
    exposure = (
        at_w[:, 0]
        + f1 / d1 * (n_a * c - s_a)
        + n_b * f1 + (f2 - f1) / (d2 - d1) * (n_b * (c - d1) - s_b)
        + n_c * f2 + (1 - f2) / (dw - d2) * (n_c * (c - d2) - s_c)
    )
    out = np.empty((c.size, len(STATE_COLUMNS)), dtype=dtype)
    out[:, 0] = now[:, 0]
    out[:, 1] = np.maximum(exposure, 0.0)
    out[:, 2:] = now[:, 2:]
    return out


def delay_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(F(k1), F(k2))`` from counts of completed returns (within k1, within k2, all), shrunk
    towards a prior when returns are few."""
    w = _DELAY_PRIOR_WEIGHT
    f1 = (counts[:, 0] + w * _DELAY_PRIOR[0]) / (counts[:, 2] + w)
    f2 = (counts[:, 1] + w * _DELAY_PRIOR[1]) / (counts[:, 2] + w)
    return f1, f2


def moments_from_sums(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of kept sizes from their (sum, sum of squares, count)."""
    count = sums[:, 2]
    mean = np.where(count > 0, sums[:, 0] / np.maximum(count, 1), np.nan)
    var = np.where(count > 1, sums[:, 1] / np.maximum(count, 1) - mean ** 2, np.nan)
    sd = np.sqrt(np.maximum(var, 0.0))
    enough = count >= 30
    return np.where(enough, mean, np.nan), np.where(enough & (sd > 0.1), sd, np.nan)


def size_offset(product: np.ndarray, brand: np.ndarray, offset_strength: float,
                brand_offset_strength: float) -> np.ndarray:
    """How far a product runs from true size: its kept-distance ``(sum, count)`` shrunk towards
    its brand's (itself shrunk towards 0)."""
    brand_offset = brand[:, 0] / (brand[:, 1] + brand_offset_strength)
    return (product[:, 0] + offset_strength * brand_offset) / (product[:, 1] + offset_strength)


@dataclass
class LineHistory:
    """Everything the history says about a set of lines, each at its own cut-off.

    ``states`` maps each of :data:`RATE_ENTITIES` to a ``(n, len(STATE_COLUMNS))`` array (or,
    in training, :class:`PairStates`: read them through :meth:`rows`);
    ``profile`` is ``(n, 3)`` (signal sum, signal count, kept count in the product's size
    system); ``fit_offset`` is ``(n, 4)`` (kept-distance sum and count of the product, then of
    its brand);
    ``body`` is ``(n, 2)`` (z-score sum and count over all systems); ``moments`` is ``(n, 2)``
    (mean and standard deviation of kept sizes in the line's size system).
    """

    states: dict[str, np.ndarray]
    profile: np.ndarray
    fit_offset: np.ndarray
    body: np.ndarray
    moments: np.ndarray

    def rows(self, selection: slice) -> "LineHistory":
        """The history of a contiguous range of the lines (compact states spread out)."""
        states = {k: v.rows(selection) if isinstance(v, PairStates) else v[selection] for k, v in self.states.items()}
        return LineHistory(states, self.profile[selection], self.fit_offset[selection], self.body[selection],
                           self.moments[selection])


@dataclass
class PairStates:
    """States stored once per distinct (entity, cut-off) pair: line ``i`` has ``values[codes[i]]``.

    Millions of lines share a few thousand shop or category states: this keeps the training
    frame's states a fraction of their spread-out size.
    """

    values: np.ndarray
    codes: np.ndarray

    def rows(self, selection: slice) -> np.ndarray:
        return self.values[self.codes[selection]]


@dataclass
class _Codes:
    """Integer codes of the entities of a set of lines (``-1``: unknown entity)."""

    shop: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    product: np.ndarray
    product_size: np.ndarray
    customer: np.ndarray
    customer_system: np.ndarray


class HistoryIndex:
    """Event counters over a shop's history as known at ``as_of``.

    Parameters
    ----------
    attrs:
        Product attributes indexed by ``product_id`` (see
        :func:`~returnrisk.features.attributes.product_attributes`), with ``category``,
        ``brand`` and ``size_system``.
    lines:
        Order lines with ``line_id``, ``customer_id``, ``product_id``, ``size``,
        ``ordered_at`` and ``size_ordinal`` (ordinal in the product's system, nan if none).
    returns:
        Returns with ``line_id``, ``returned_at`` and ``reason_group``.
    as_of:
        Only lines ordered and returns registered strictly before this time are used.
    window_days, knots_days:
        The return window and the two knots of the piecewise-linear return-delay curve.
    kept_after_days:
        A line not returned this long after its order counts as kept in size profiles
        (provisionally: a later return retracts it).
    """

    def __init__(self, attrs: pd.DataFrame, lines: pd.DataFrame, returns: pd.DataFrame,
                 as_of: pd.Timestamp, *, window_days: float = DEFAULT_WINDOW_DAYS,
                 knots_days: tuple[float, float] = (7, 14), kept_after_days: float = 14,
                 offset_strength: float = 3.0, brand_offset_strength: float = 20.0):
        self.as_of = to_utc(as_of)
        self.as_of_s = int(epoch_seconds(self.as_of, whole=True))
        self.window_days = window_days
        self.window_s = int(window_days * DAY)
        self.knots_s = tuple(int(k * DAY) for k in knots_days)
        self.kept_after_s = int(kept_after_days * DAY)
        self.offset_strength = offset_strength
        self.brand_offset_strength = brand_offset_strength
        if not (0 < self.knots_s[0] < self.knots_s[1] < self.window_s):
            raise ValueError(f"knots {knots_days} must be increasing and inside the window {window_days}")
        t = epoch_seconds(lines["ordered_at"], whole=True)
        known = t < self.as_of_s
        plain = known.all() and lines.index.equals(pd.RangeIndex(len(lines)))
        self.lines = lines if plain else lines.loc[known].reset_index(drop=True)
        self.t = t[known]
        self.attrs = attrs
        self.products = pd.Index(attrs.index)
        self.categories = pd.Index(pd.unique(attrs["category"].astype(object)))
        self.brands = pd.Index(pd.unique(attrs["brand"].astype(object).dropna()))
        self.customers = first_seen(self.lines["customer_id"], dropna=True)
        self.size_labels = first_seen(self.lines["size"], missing_as="")
        self.systems = pd.Index(pd.unique(attrs["size_system"].astype(object)))
        self._product_category = self.categories.get_indexer(attrs["category"].astype(object))
        self._product_brand = self.brands.get_indexer(attrs["brand"].astype(object))
        self._product_system = self.systems.get_indexer(attrs["size_system"].astype(object))
        codes = self.codes_for(self.lines)
        self.line_codes = codes
        self._line_system = np.where(codes.product >= 0, self._product_system[np.maximum(codes.product, 0)],
                                     -1).astype(np.int64)

        # returns known at as_of, aligned to the known lines
        ret = returns[epoch_seconds(returns["returned_at"], whole=True) < self.as_of_s]
        position = positions(ret["line_id"], self.lines["line_id"])
        ret = ret.loc[position >= 0]
        self.ret_line = position[position >= 0]
        self.ret_t = epoch_seconds(ret["returned_at"], whole=True)
        self.ret_group = pd.Categorical(ret["reason_group"].astype(object), categories=RETURN_GROUPS).codes
        self.returned = np.zeros(len(self.lines), dtype=bool)
        self.returned[self.ret_line] = True

        release_arrow_memory()  # the hash tables of the id lookups above
        self._delay = self._delay_counter()
        self._counters: dict[str, AsOfCounter | None] = {}
        self._final: dict[str, np.ndarray] = {}
        self._profile = None
        self._fit_offset = None
        self._brand_offset = None
        self._raw_profile_counter = None
        self._corrected = None
        self._systems = None
        self._body = None
        self._distance = None
        self._first_returned_at = None
        self._distinct_codes: dict[str, np.ndarray] = {}

    # ---- encoding -----------------------------------------------------------------------------
    def codes_for(self, lines: pd.DataFrame) -> _Codes:
        """Entity codes of arbitrary lines (unknown products, customers… get ``-1``).

        Lines of products the history does not know may carry ``category``, ``brand`` and
        ``size_system`` columns: their category and brand priors are then used.
        """
        n = len(lines)
        product = positions(lines["product_id"], self.products)
        known = product >= 0
        safe = np.maximum(product, 0)
        category = np.where(known, self._product_category[safe], -1)
        brand = np.where(known, self._product_brand[safe], -1)
        system = np.where(known, self._product_system[safe], -1)
        new_products = not known.all()  # lines of products the history does not know
        if new_products and "category" in lines.columns:
            category = np.where(known, category, self.categories.get_indexer(lines["category"].astype(object)))
        if new_products and "brand" in lines.columns:
            brand = np.where(known, brand, self.brands.get_indexer(lines["brand"].astype(object)))
        if new_products and "size_system" in lines.columns:
            system = np.where(known, system, positions(lines["size_system"], self.systems))
        size_code = positions(lines["size"], self.size_labels, missing_as="") if "size" in lines.columns \
            else np.full(n, self.size_labels.get_indexer([""])[0])
        product_size = np.where(known & (size_code >= 0),
                                product.astype(np.int64) * len(self.size_labels) + size_code, -1)
        customer = positions(lines["customer_id"], self.customers) \
            if "customer_id" in lines.columns else np.full(n, -1)
        customer_system = np.where((customer >= 0) & (system >= 0),
                                   customer.astype(np.int64) * 16 + system, -1)
        return _Codes(np.zeros(n, dtype=np.int64), category.astype(np.int64), brand.astype(np.int64),
                      product.astype(np.int64), product_size.astype(np.int64), customer.astype(np.int64),
                      customer_system.astype(np.int64))

    # ---- counters -----------------------------------------------------------------------------
    def _rate_counter(self, line_entity: np.ndarray) -> AsOfCounter:
        sold = line_entity >= 0
        ret_entity = line_entity[self.ret_line]
        returned = ret_entity >= 0
        n_sold, n_ret = int(sold.sum()), int(returned.sum())
        # one (events, values) matrix filled in place: sales first, then returns
        values = np.zeros((n_sold + n_ret, 3 + len(RETURN_GROUPS)))
        values[:n_sold, 0] = 1.0
        values[:n_sold, 1] = self.t[sold] / DAY
        values[n_sold:, 2] = 1.0
        values[n_sold + np.arange(n_ret), 3 + self.ret_group[returned]] = 1.0
        keys = np.concatenate([line_entity[sold], ret_entity[returned]])
        times = np.concatenate([self.t[sold], self.ret_t[returned]])
        return AsOfCounter(keys, times, values)

    def _delay_counter(self) -> AsOfCounter:
        """Returns by delay bucket, counted once the line's whole window has passed."""
        delay = self.ret_t - self.t[self.ret_line]
        complete_at = np.maximum(self.ret_t, self.t[self.ret_line] + self.window_s)
        values = np.stack([
            delay < self.knots_s[0], delay < self.knots_s[1], np.ones(delay.size, bool)
        ], axis=1).astype(float)
        return AsOfCounter(np.zeros(delay.size, dtype=np.int64), complete_at, values)

    def delay_curve(self, cutoffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(F(k1), F(k2))`` at each cut-off, shrunk towards a prior when returns are few."""
        return delay_from_counts(self._delay.query_unique(np.zeros(cutoffs.size, dtype=np.int64), cutoffs))

    def _counter(self, entity: str) -> AsOfCounter:
        counter = self._counters.get(entity)
        if counter is None:  # built on first use; released by line_history once its work is done
            counter = self._counters[entity] = self._rate_counter(getattr(self.line_codes, entity))
        return counter

    def state(self, entity: str, codes: np.ndarray, cutoffs: np.ndarray, dtype=np.float64, *,
              per_pair: bool = False) -> np.ndarray | PairStates:
        """``(len(codes), len(STATE_COLUMNS))`` state of ``entity`` at each cut-off
        (with ``per_pair``: as :class:`PairStates`)."""
        k1, k2, w = self.knots_s[0], self.knots_s[1], self.window_s
        (now, at_k1, at_k2, at_w), pair_of, first = self._counter(entity).query_offsets(
            codes, cutoffs, [0, k1, k2, w], [None, slice(0, 2), slice(0, 2), slice(0, 2)], per_pair=True)
        cutoffs = np.asarray(cutoffs, dtype=np.int64)[first]
        out = states_from_sums(now, at_k1, at_k2, at_w, cutoffs, self.delay_curve(cutoffs), self.knots_s,
                               self.window_s, dtype)
        if per_pair:
            return PairStates(out, pair_of.astype(np.int32 if cutoffs.size < 2**31 else np.int64))
        return out[pair_of]

    def entity_codes(self, entity: str) -> np.ndarray:
        """Every code of ``entity`` the snapshot describes."""
        sizes = {"shop": 1, "category": len(self.categories), "brand": len(self.brands),
                 "product": len(self.products), "customer": len(self.customers)}
        if entity == "product_size":
            return self._distinct("product_size")
        return np.arange(sizes[entity], dtype=np.int64)

    def _distinct(self, name: str) -> np.ndarray:
        """The distinct known codes of the lines' ``name`` code, ascending (cached: the snapshot reuses them)."""
        if name not in self._distinct_codes:
            codes = getattr(self.line_codes, name)
            self._distinct_codes[name] = np.sort(pd.unique(codes[codes >= 0]))
        return self._distinct_codes[name]

    def final_state(self, entity: str) -> np.ndarray:
        """State of every code of ``entity`` at ``as_of`` (cached: the snapshot reads it)."""
        if entity not in self._final:
            codes = self.entity_codes(entity)
            self._final[entity] = self.state(entity, codes, np.full(codes.size, self.as_of_s, dtype=np.int64))
        return self._final[entity]

    # ---- size profiles ------------------------------------------------------------------------
    def _kept_events(self, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Provisional "kept" events and their retractions, for the lines where ``eligible``.

        A line not returned ``kept_after`` after its order counts as kept from then on; if it is
        returned later after all, the return retracts it. Returns ``(kept_lines, kept_times,
        retracted_lines, retraction_times)``.
        """
        first_return = self._first_return()
        kept_time = self.t + self.kept_after_s
        kept = eligible & (first_return >= kept_time)
        retracted = kept & (first_return < np.iinfo(np.int64).max)
        kept_lines = np.flatnonzero(kept)
        retracted_lines = np.flatnonzero(retracted)
        return kept_lines, kept_time[kept_lines], retracted_lines, first_return[retracted_lines]

    def _first_return(self) -> np.ndarray:
        """Time of each line's first return (INT64 max if never returned), computed once."""
        if self._first_returned_at is None:
            first_return = np.full(self.t.size, np.iinfo(np.int64).max)
            np.minimum.at(first_return, self.ret_line, self.ret_t)
            self._first_returned_at = first_return
        return self._first_returned_at

    def _signal_counter(self, ordinal: np.ndarray) -> AsOfCounter:
        """Size signals per (customer, size system): kept at s → s; too small → s+1; too large → s-1."""
        key = self.line_codes.customer_system
        sized = np.isfinite(ordinal) & (key >= 0)
        kept, kept_t, retracted, retracted_t = self._kept_events(sized)
        r_line = self.ret_line
        small = (self.ret_group == RETURN_GROUPS.index("too_small")) & sized[r_line]
        large = (self.ret_group == RETURN_GROUPS.index("too_large")) & sized[r_line]
        keys = np.concatenate([key[kept], key[retracted], key[r_line[small]], key[r_line[large]]])
        times = np.concatenate([kept_t, retracted_t, self.ret_t[small], self.ret_t[large]])
        signal = np.concatenate([ordinal[kept], -ordinal[retracted],
                                 ordinal[r_line[small]] + 1.0, ordinal[r_line[large]] - 1.0])
        count = np.concatenate([np.ones(kept.size), -np.ones(retracted.size), np.ones(small.sum() + large.sum())])
        n_kept = np.concatenate([np.ones(kept.size), -np.ones(retracted.size), np.zeros(small.sum() + large.sum())])
        return AsOfCounter(keys, times, np.stack([signal, count, n_kept], axis=1))

    def _raw_profile(self, customer_system: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        """Profiles from the sizes as labelled (used to measure how each product fits)."""
        if self._raw_profile_counter is None:
            self._raw_profile_counter = self._signal_counter(self.lines["size_ordinal"].to_numpy(dtype=float))
        return self._raw_profile_counter.query_unique(customer_system, cutoffs)

    def true_to_size_ordinal(self) -> np.ndarray:
        """Each line's size corrected by how its product fitted, as known at the line's cut-off.

        A customer who kept an L of a product that runs one size small is an M: profiles built
        from corrected sizes describe the customer, not the products they happened to buy.
        """
        if self._corrected is None:
            cutoffs = day_floor(self.t)
            product = self.fit_offset(self.line_codes.product, cutoffs)
            brand = self.brand_offset(self.line_codes.brand, cutoffs)
            offset = size_offset(product, brand, self.offset_strength, self.brand_offset_strength)
            self._corrected = self.lines["size_ordinal"].to_numpy(dtype=float) - offset
        return self._corrected

    def _profile_counter(self) -> AsOfCounter:
        if self._profile is None:
            self._profile = self._signal_counter(self.true_to_size_ordinal())
        return self._profile

    def _system_counter(self) -> AsOfCounter:
        """Per size system: sum, sum of squares and count of the sizes kept (for z-scores)."""
        if self._systems is None:
            ordinal = self.lines["size_ordinal"].to_numpy(dtype=float)
            system = self._line_system
            kept, kept_t, retracted, retracted_t = self._kept_events(np.isfinite(ordinal) & (system >= 0))
            sign = np.concatenate([np.ones(kept.size), -np.ones(retracted.size)])
            rows = np.concatenate([kept, retracted])
            values = np.stack([sign * ordinal[rows], sign * ordinal[rows] ** 2, sign], axis=1)
            self._systems = AsOfCounter(system[rows], np.concatenate([kept_t, retracted_t]), values)
        return self._systems

    def system_moments(self, system: np.ndarray, cutoffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of kept sizes per size system at each cut-off."""
        return moments_from_sums(self._system_counter().query_unique(system, cutoffs))

    def _body_counter(self) -> AsOfCounter:
        """Per customer, size signals of every system as z-scores: one body size across systems."""
        if self._body is None:
            ordinal = self.true_to_size_ordinal()
            system = self._line_system
            customer = self.line_codes.customer
            mean, sd = self.system_moments(np.maximum(system, 0), day_floor(self.t))
            z = (ordinal - mean) / sd
            usable = np.isfinite(z) & (customer >= 0) & (system >= 0)
            kept, kept_t, retracted, retracted_t = self._kept_events(usable)
            r_line = self.ret_line
            step = 1.0 / sd
            small = (self.ret_group == RETURN_GROUPS.index("too_small")) & usable[r_line]
            large = (self.ret_group == RETURN_GROUPS.index("too_large")) & usable[r_line]
            keys = np.concatenate([customer[kept], customer[retracted], customer[r_line[small]], customer[r_line[large]]])
            times = np.concatenate([kept_t, retracted_t, self.ret_t[small], self.ret_t[large]])
            signal = np.concatenate([z[kept], -z[retracted], z[r_line[small]] + step[r_line[small]],
                                     z[r_line[large]] - step[r_line[large]]])
            count = np.concatenate([np.ones(kept.size), -np.ones(retracted.size), np.ones(small.sum() + large.sum())])
            self._body = AsOfCounter(keys, times, np.stack([signal, count], axis=1))
        return self._body

    def body(self, customer: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        """``(z_sum, z_count)``: the customer's body size across systems, as a z-score sum."""
        return self._body_counter().query_unique(customer, cutoffs)

    def line_history(self, codes: "_Codes", cutoffs: np.ndarray, system: np.ndarray) -> LineHistory:
        """The history of lines with entity ``codes`` and size ``system`` codes at ``cutoffs``.

        To keep memory flat on large histories, each counter is built, queried for the lines and
        for the end of the data (:meth:`final_state`, :meth:`final_of`: what the snapshot needs),
        then released; a later query rebuilds it.
        """
        mean, sd = self.system_moments(np.maximum(system, 0), cutoffs)
        unknown_system = system < 0
        states = {}
        for entity in RATE_ENTITIES:
            states[entity] = self.state(entity, getattr(codes, entity), cutoffs, dtype=np.float32, per_pair=True)
            self.final_state(entity)
            self._counters[entity] = None
        # float32 like the feature matrix: half the memory of ten million lines' histories
        history = LineHistory(
            states=states,
            profile=self.profile(codes.customer_system, cutoffs).astype(np.float32),
            fit_offset=np.hstack([self.fit_offset(codes.product, cutoffs),
                                  self.brand_offset(codes.brand, cutoffs)]).astype(np.float32),
            body=self.body(codes.customer, cutoffs).astype(np.float32),
            moments=np.stack([np.where(unknown_system, np.nan, mean),
                              np.where(unknown_system, np.nan, sd)], axis=1).astype(np.float32),
        )
        for what in ("profile", "body", "fit_offset", "brand_offset", "moments"):
            self.final_of(what)
        self._profile = self._raw_profile_counter = self._body = None
        self._fit_offset = self._brand_offset = self._systems = None
        self._distance = self._first_returned_at = None
        return history

    def final_codes(self, what: str) -> np.ndarray:
        """The codes :meth:`final_of` describes: customer × system, customer, product, brand, system."""
        if what == "profile":
            return self._distinct("customer_system")
        sizes = {"body": len(self.customers), "fit_offset": len(self.products), "brand_offset": len(self.brands),
                 "moments": len(self.systems)}
        return np.arange(sizes[what], dtype=np.int64)

    def final_of(self, what: str) -> np.ndarray:
        """``profile``, ``body``, ``fit_offset``, ``brand_offset`` or ``moments`` (mean, sd) of every
        code of :meth:`final_codes` at ``as_of`` (cached)."""
        if what not in self._final:
            codes = self.final_codes(what)
            at = np.full(codes.size, self.as_of_s, dtype=np.int64)
            if what == "moments":
                value = np.stack(self.system_moments(codes, at), axis=1)
            else:
                value = {"profile": self.profile, "body": self.body, "fit_offset": self.fit_offset,
                         "brand_offset": self.brand_offset}[what](codes, at)
            self._final[what] = value
        return self._final[what]

    def system_code(self, systems: pd.Series | np.ndarray) -> np.ndarray:
        return self.systems.get_indexer(pd.Series(systems).astype(object)).astype(np.int64)

    def profile(self, customer_system: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        """``(signal_sum, signal_count, kept_count)`` of each customer's size profile."""
        return self._profile_counter().query_unique(customer_system, cutoffs)

    def _usual_size_distance(self) -> np.ndarray:
        """Each line's size minus its customer's usual size (as labelled) at its cut-off; nan if none."""
        if self._distance is None:
            prof = self._raw_profile(self.line_codes.customer_system, day_floor(self.t))
            usual = np.where(prof[:, 1] > 0, prof[:, 0] / np.maximum(prof[:, 1], 1e-9), np.nan)
            self._distance = self.lines["size_ordinal"].to_numpy(dtype=float) - usual
            self._raw_profile_counter = None  # only needed for this
        return self._distance

    def _kept_distance_events(self, key: np.ndarray) -> AsOfCounter:
        """Per ``key`` (product or brand): how far from their usual size customers who kept it ordered."""
        distance = self._usual_size_distance()
        kept, kept_t, retracted, retracted_t = self._kept_events(np.isfinite(distance) & (key >= 0))
        keys = np.concatenate([key[kept], key[retracted]])
        times = np.concatenate([kept_t, retracted_t])
        values = np.stack([
            np.concatenate([distance[kept], -distance[retracted]]),
            np.concatenate([np.ones(kept.size), -np.ones(retracted.size)]),
        ], axis=1)
        return AsOfCounter(keys, times, values)

    def _fit_offset_counter(self) -> AsOfCounter:
        if self._fit_offset is None:
            self._fit_offset = self._kept_distance_events(self.line_codes.product)
        return self._fit_offset

    def brand_offset(self, brand: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        """``(distance_sum, count)`` of kept lines of each brand."""
        if self._brand_offset is None:
            self._brand_offset = self._kept_distance_events(self.line_codes.brand)
        return self._brand_offset.query_unique(brand, cutoffs)

    def fit_offset(self, product: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        """``(distance_sum, count)`` of kept lines of each product."""
        return self._fit_offset_counter().query_unique(product, cutoffs)
