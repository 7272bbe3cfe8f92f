"""The demo shop's orders and order lines: who buys what, when, in which size, at what price.

Everything is vectorised over lines (no per-line Python loop), so ten million lines take
seconds, not hours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.demo.catalogue import LADDERS
from returnrisk.timeutil import DAY

__all__ = ["day_weights", "make_lines", "pick_among_available"]

_SYSTEMS = ("letter", "eu", "waist", "shoe")


def day_weights(start: pd.Timestamp, days: int) -> np.ndarray:
    """Relative order volume per day: growth, a yearly cycle, sales and Black Friday, weekends."""
    dates = start + pd.to_timedelta(np.arange(days), unit="D")
    doy = dates.dayofyear.to_numpy()
    weight = 1.0 + 0.35 * np.arange(days) / days
    weight *= 1.0 + 0.22 * np.cos(2 * np.pi * (doy - 345) / 365.25)
    month, day = dates.month.to_numpy(), dates.day.to_numpy()
    black_friday = (month == 11) & (day >= 22) & (day <= 30)
    weight *= np.where(black_friday, 1.9, 1.0)
    weight *= np.where((month == 1) & (day <= 31) & (day >= 5), 1.25, 1.0)
    weight *= np.where(dates.dayofweek.to_numpy() >= 5, 1.15, 1.0)
    return weight / weight.sum()


def sale_discount(rng: np.random.Generator, dates: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Discount of each line: seasonal sales, Black Friday, and occasional markdowns."""
    month = np.asarray(dates.month)
    day = np.asarray(dates.day)
    n = month.size
    in_sale = ((month == 1) & (day >= 5)) | ((month == 7) & (day <= 25))
    black_friday = (month == 11) & (day >= 22) & (day <= 30)
    share = np.where(black_friday, 0.55, np.where(in_sale, 0.40, 0.08))
    depth = np.where(
        black_friday, rng.choice([0.2, 0.3, 0.4], n),
        np.where(in_sale, rng.choice([0.2, 0.3, 0.5], n), rng.choice([0.1, 0.15, 0.2], n)),
    )
    return np.where(rng.random(n) < share, depth, 0.0)


def pick_among_available(
    rng: np.random.Generator, available_from: np.ndarray, weight: np.ndarray, when: np.ndarray
) -> np.ndarray:
    """For each time in ``when``, draw an item available by then, proportionally to ``weight``.

    Items are available from ``available_from`` (same unit as ``when``). Exact and vectorised:
    items are sorted by availability, so the items available at a time form a prefix whose
    cumulative weight is searched once per draw.
    """
    order = np.argsort(available_from, kind="stable")
    sorted_from = available_from[order]
    cum = np.cumsum(weight[order])
    n_available = np.searchsorted(sorted_from, when, side="right")
    n_available = np.maximum(n_available, 1)  # before any launch: the earliest item
    draw = rng.random(when.size) * cum[n_available - 1]
    picked = np.minimum(np.searchsorted(cum, draw, side="right"), n_available - 1)
    return order[picked]


def _size_pick(
    rng: np.random.Generator, system: np.ndarray, true_size: np.ndarray, habit: np.ndarray,
    fit_offset: np.ndarray, has_guide: np.ndarray, half_sizes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The ordinal a customer picks, and whether they read the size guide.

    With a guide (and reading it) customers correct for the product's offset and for their
    own misbelief; without one they order their usual size, with more hesitation.
    """
    n = system.size
    reads_guide = has_guide & (rng.random(n) < 0.7)
    sd = np.where(reads_guide, 0.22, np.where(has_guide, 0.33, 0.50))
    target = np.where(reads_guide, true_size + 0.9 * fit_offset, true_size + habit)
    pick = target + sd * rng.standard_normal(n)
    step = np.where(half_sizes, 0.5, 1.0)
    pick = np.round(pick / step) * step
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    for name in _SYSTEMS:
        mask = system == name
        low[mask], high[mask] = LADDERS[name][0], LADDERS[name][1]
    return np.clip(pick, low, high), reads_guide


def make_lines(
    rng: np.random.Generator, n_target: int, products: pd.DataFrame, customers: pd.DataFrame,
    start: pd.Timestamp, days: int, day_range: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Order lines (with their hidden fit quantities), sorted by time.

    ``day_range`` ``(first, end)`` limits the orders to those days of the period (the streamed
    generator of :mod:`returnrisk.demo.parts` makes a long history one slice at a time).
    """
    mean_lines = 1.78  # a little under the true mean, so that trimming reaches n_target
    n_orders = max(1, int(round(n_target / mean_lines)))
    if day_range is None:
        order_day = rng.choice(days, n_orders, p=day_weights(start, days))
    else:
        weights = day_weights(start, days)[day_range[0]:day_range[1]]
        order_day = day_range[0] + rng.choice(weights.size, n_orders, p=weights / weights.sum())
    seconds = order_day.astype(np.int64) * DAY + rng.integers(6 * 3600, 24 * 3600, n_orders)
    order_sort = np.argsort(seconds, kind="stable")
    seconds, order_day = seconds[order_sort], order_day[order_sort]
    customer = pick_among_available(
        rng, customers["arrival_day"].to_numpy(), customers["activity"].to_numpy(), order_day
    )
    per_order = np.minimum(1 + rng.poisson(0.85, n_orders), 8)
    line_order = np.repeat(np.arange(n_orders), per_order)
    line_day = order_day[line_order]
    product = pick_among_available(
        rng, products["launch_day"].to_numpy(), products["popularity"].to_numpy(), line_day
    )
    line_customer = customer[line_order]

    # bracketing: some customers add the neighbouring size of a sized item to the same order
    system = products["size_system"].to_numpy()[product]
    sized = system != "unsized"
    bracket = sized & customers["bracketer"].to_numpy()[line_customer] & (rng.random(line_order.size) < 0.5)
    twin_of = np.flatnonzero(bracket)
    all_order = np.concatenate([line_order, line_order[twin_of]])
    all_product = np.concatenate([product, product[twin_of]])
    all_customer = np.concatenate([line_customer, line_customer[twin_of]])
    is_twin = np.concatenate([np.zeros(line_order.size, bool), np.ones(twin_of.size, bool)])
    twin_source = np.concatenate([np.full(line_order.size, -1), twin_of])

    system = products["size_system"].to_numpy()[all_product]
    true_size = np.full(all_product.size, np.nan)
    habit = np.zeros(all_product.size)
    for name in _SYSTEMS:
        mask = system == name
        true_size[mask] = customers[f"true_{name}"].to_numpy()[all_customer[mask]]
        habit[mask] = customers[f"habit_{name}"].to_numpy()[all_customer[mask]]
    fit_offset = products["fit_offset"].to_numpy()[all_product]
    has_guide = products["has_size_guide"].to_numpy()[all_product].astype(bool)
    half = products["half_sizes"].to_numpy()[all_product].astype(bool)
    pick, reads_guide = _size_pick(rng, system, true_size, habit, fit_offset, has_guide, half)
    # the twin is one size step away from the first pick, towards where the customer hesitates
    n_main = line_order.size
    first = pick[:n_main][twin_of]
    direction = np.where(rng.random(twin_of.size) < 0.5, 1.0, -1.0)
    pick[n_main:] = first + direction
    fit_gap = pick - (true_size + fit_offset)

    line_seconds = seconds[all_order] + is_twin.astype(np.int64)  # twin right after its source
    bracketed = is_twin | np.isin(np.arange(all_order.size), twin_of)
    # reach exactly n_target lines by dropping random lines that are not part of a bracket
    keep = np.ones(all_order.size, dtype=bool)
    excess = all_order.size - n_target
    if excess > 0:
        candidates = np.flatnonzero(~bracketed)
        keep[rng.choice(candidates, min(excess, candidates.size), replace=False)] = False
    kept = np.flatnonzero(keep)
    order = kept[np.argsort(line_seconds[kept], kind="stable")]
    qty = rng.choice([1, 2, 3], all_order.size, p=[0.965, 0.03, 0.005])
    ordered_at = start + pd.to_timedelta(line_seconds, unit="s")
    discount = sale_discount(rng, ordered_at)
    price = products["price"].to_numpy()[all_product]
    frame = pd.DataFrame({
        "order_index": all_order,
        "customer_index": all_customer,
        "product_index": all_product,
        "seconds": line_seconds,
        "size_system": system,
        "size_ordinal": pick,
        "true_size": true_size,
        "fit_gap": fit_gap,
        "reads_guide": reads_guide,
        "bracketed": bracketed,
        "twin_source": twin_source,
        "quantity": qty,
        "discount": discount,
        "unit_price": np.round(price * (1 - discount), 2),
    })
    frame = frame.iloc[order].reset_index(drop=True)
    # keep twin_source pointing at the new positions
    position = np.full(all_order.size, -1, dtype=np.int64)
    position[order] = np.arange(order.size)
    src = frame["twin_source"].to_numpy()
    frame["twin_source"] = np.where(src >= 0, position[np.maximum(src, 0)], -1)
    return frame
