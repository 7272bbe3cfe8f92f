"""A shop shaped like a real one, for tests and benchmarks: the data a real shop hands over.

The demo shop (:mod:`returnrisk.demo.generator`) is a fashion shop with every column filled in.
Real shops are not: this builder writes a shop in the data contract with what a real
history export looks like, every trait switchable for a test:

* an **unsized catalogue** (no ``size`` column) and **no return reasons** (no ``reason_code``,
  no ``reason_text``), **no refund dates**, no return costs;
* **wholesale quantities**: some lines of 12 to 10,000 units, and one cancelled line of 80,995;
* **partial returns**: most returns of multi-unit lines bring back part of the line, some in
  several parts (``returns.quantity``, ``returns.return_id``);
* **non-merchandise lines**: postage on most orders, a payment fee, gift wrap;
* **cancellations recorded as returns** (whole line, hours after the order);
* a **weekday-only return calendar with holiday closures**: returns are registered Monday to
  Friday, never on French public holidays (a return that arrives on a closed day is registered
  on the next open day), between 08:00 and 17:00 UTC;
* a ``category`` column holding **hundreds of colour and word values** instead of product types;
* a few returns more than 90 days after the order; order numbers (``#1001``) and two currencies.

Usage: ``build_real_shop(out, n_lines=3000, seed=0)`` (seconds for tests; vectorised, so
``n_lines=300_000`` for a benchmark takes a few seconds too). Returns the manifest, also written
to ``out/truth/manifest.json`` with the holidays and counts a test can check against.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from dateutil.easter import easter

from returnrisk.timeutil import DAY

__all__ = ["RealShopConfig", "build_real_shop", "french_holidays", "CANCELLED_GIANT_QUANTITY"]

#: The cancelled wholesale line recorded as a return, as seen in a real shop's history.
CANCELLED_GIANT_QUANTITY = 80_995

_COLOURS = ("noir", "blanc", "bleu", "rouge", "vert", "jaune", "rose", "gris", "beige", "marron", "violet",
            "orange", "kaki", "bordeaux", "camel", "écru", "marine", "turquoise", "corail", "moutarde", "taupe",
            "black", "white", "blue", "red", "green", "navy", "pink", "grey", "brown", "ivory", "olive", "sand",
            "anthracite", "argent", "doré", "prune", "menthe", "lilas", "saumon")
_SHADES = ("", " clair", " foncé", " chiné", " pastel", " light", " dark", " mat")
_WORDS = ("Été", "Hiver", "Nouveautés", "Promo", "Soldes", "Coton", "Lin", "Laine", "Basique", "Collection",
          "Essentiel", "Printemps", "Automne", "Capsule", "Atelier", "Outlet", "Cadeau", "Week-end", "Vintage",
          "Bio", "Classique", "Tendance", "Exclusif", "Héritage", "Plage", "Ville", "Montagne", "Voyage")
_NOUNS = ("Pull", "Chemise", "Robe", "Veste", "Écharpe", "Bonnet", "Sac", "Pantalon", "Jupe", "Gilet", "Tote",
          "Plaid", "Coussin", "Tablier", "Pochette", "Trousse", "Foulard", "Cardigan")

#: The pseudo-products (postage, fees): ``product_id, title, category, price``.
PSEUDO_PRODUCTS = (
    ("SHIP-STD", "Frais de port", "Frais de port", 4.90),
    ("SHIP-EXP", "Livraison express", "Frais de port", 9.90),
    ("FEE-PAY", "Frais de paiement", "Services", 1.50),
    ("GIFT-WRAP", "Emballage cadeau", "Services", 3.00),
)


@dataclass(frozen=True)
class RealShopConfig:
    n_lines: int = 3000
    seed: int = 0
    start: str = "2024-06-03"        # a Monday
    days: int = 540
    wholesale_share: float = 0.04    # lines of 12–10,000 units
    guest_share: float = 0.35        # orders by a one-off (guest) customer
    cancel_share: float = 0.03       # lines cancelled hours after the order, recorded as returns
    postage_share: float = 0.85      # orders with a postage line
    file_format: str = "csv"

    @property
    def n_products(self) -> int:
        return int(np.clip(self.n_lines / 12, 250, 6000))


def french_holidays(years) -> list[pd.Timestamp]:
    """France's public holidays of ``years`` (fixed dates, Easter Monday, Ascension, Whit Monday)."""
    out = []
    for year in years:
        for month, day in ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)):
            out.append(pd.Timestamp(year, month, day, tz="UTC"))
        sunday = pd.Timestamp(easter(year), tz="UTC")
        out += [sunday + pd.Timedelta(days=k) for k in (1, 39, 50)]
    return sorted(out)


def _next_open_day(day_index: np.ndarray, open_days: np.ndarray) -> np.ndarray:
    """The first open day at or after each ``day_index`` (past the calendar: the last day + 1)."""
    open_idx = np.flatnonzero(open_days)
    pos = np.searchsorted(open_idx, day_index, side="left")
    return np.where(pos < open_idx.size, open_idx[np.minimum(pos, open_idx.size - 1)], open_days.size + 1)


def _categories(rng: np.random.Generator, n: int) -> np.ndarray:
    colour = rng.choice(np.array(_COLOURS, dtype=object), n)
    shade = rng.choice(np.array(_SHADES, dtype=object), n, p=[0.4] + [0.6 / 7] * 7)
    cased = np.where(rng.random(n) < 0.3, np.char.capitalize((colour + shade).astype(str)), (colour + shade).astype(str))
    words = rng.choice(np.array(_WORDS, dtype=object), n)
    return np.where(rng.random(n) < 0.8, cased.astype(object), words)


def build_real_shop(out: str | Path, *, n_lines: int = 3000, seed: int = 0, days: int = 540,
                    file_format: str = "csv", **options) -> dict:
    """Write the shop to ``out`` (``products``, ``order_lines``, ``returns``) and return its manifest."""
    config = RealShopConfig(n_lines=n_lines, seed=seed, days=days, file_format=file_format, **options)
    if config.file_format not in ("csv", "parquet"):
        raise ValueError(f"unknown format {config.file_format!r}: use csv or parquet")
    rng = np.random.default_rng(config.seed)
    start = pd.Timestamp(config.start, tz="UTC")

    # ---- products: hundreds of colour/word categories, no sizes, no brand ------------------------
    n_products = config.n_products
    product_ids = np.array([str(10_000 + i) for i in range(n_products)], dtype=object)
    nouns = rng.choice(np.array(_NOUNS, dtype=object), n_products)
    titles = np.array([f"{a} {b}" for a, b in zip(nouns, rng.choice(np.array(_WORDS, dtype=object), n_products))],
                      dtype=object)
    price = np.round(np.exp(rng.normal(3.4, 0.5, n_products)), 2)
    effect = rng.normal(0.0, 0.7, n_products)            # the product's own pull towards returns
    popularity = rng.pareto(1.3, n_products) + 1.0
    products = pd.DataFrame({
        "product_id": product_ids, "title": titles, "category": _categories(rng, n_products), "price": price,
        "url": [f"https://shop.example/p/{p}" for p in product_ids],
        "image_url": [f"https://cdn.shop.example/img/{p}.jpg" for p in product_ids],
    })
    pseudo = pd.DataFrame(list(PSEUDO_PRODUCTS), columns=["product_id", "title", "category", "price"])
    products = pd.concat([products, pseudo], ignore_index=True)

    # ---- orders: a weekly pattern, slowly growing, 1–3 merchandise lines each ---------------------
    per_order = rng.choice([1, 2, 3], size=n_lines, p=[0.6, 0.3, 0.1])
    cum = np.cumsum(per_order)
    per_order = per_order[: int(np.searchsorted(cum, n_lines, side="left")) + 1]
    per_order[-1] -= int(per_order.sum() - n_lines)
    n_orders = per_order.size
    day_weight = np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.35])[(start.dayofweek + np.arange(config.days)) % 7]
    day_weight = day_weight * np.linspace(0.8, 1.2, config.days)
    order_day = rng.choice(config.days, n_orders, p=day_weight / day_weight.sum())
    order_day.sort()
    order_seconds = order_day * DAY + rng.integers(7 * 3600, 23 * 3600, n_orders)
    n_customers = max(50, int(n_orders * (1 - config.guest_share) / 3))
    registered = rng.random(n_orders) >= config.guest_share
    customer = np.where(registered, np.char.add("C", rng.integers(0, n_customers, n_orders).astype(str)),
                        np.char.add("G", np.arange(n_orders).astype(str))).astype(object)
    currency = np.where(rng.random(n_orders) < 0.06, "CHF", "EUR").astype(object)

    order_of_line = np.repeat(np.arange(n_orders), per_order)
    product_of_line = rng.choice(n_products, n_lines, p=popularity / popularity.sum())
    kind = rng.random(n_lines)
    quantity = np.ones(n_lines, dtype=np.int64)
    multi = kind < 0.12
    quantity[multi] = rng.integers(2, 4, multi.sum())
    wholesale = (kind >= 0.12) & (kind < 0.12 + config.wholesale_share)
    quantity[wholesale] = np.round(np.exp(rng.uniform(np.log(12), np.log(10_000), wholesale.sum()))).astype(np.int64)
    giant = int(np.flatnonzero(wholesale)[0]) if wholesale.any() else 0
    quantity[giant] = CANCELLED_GIANT_QUANTITY
    unit_price = price[product_of_line] * np.where(wholesale, 0.55, 1.0)

    # non-merchandise lines: postage on most orders, a payment fee, gift wrap
    extra_order, extra_product = [], []
    for share, ids in ((config.postage_share, [0, 1]), (0.05, [2]), (0.03, [3])):
        chosen = np.flatnonzero(rng.random(n_orders) < share)
        extra_order.append(chosen)
        extra_product.append(n_products + rng.choice(ids, chosen.size, p=[0.8, 0.2] if len(ids) == 2 else None))
    extra_order = np.concatenate(extra_order)
    extra_product = np.concatenate(extra_product)

    line_order = np.concatenate([order_of_line, extra_order])
    line_product = np.concatenate([product_of_line, extra_product])
    line_quantity = np.concatenate([quantity, np.ones(extra_order.size, dtype=np.int64)])
    line_price = np.concatenate([unit_price, products["price"].to_numpy()[extra_product]])
    arrange = np.lexsort((line_product >= n_products, line_order))
    line_order, line_product = line_order[arrange], line_product[arrange]
    line_quantity, line_price = line_quantity[arrange], line_price[arrange]
    merch = line_product < n_products
    n_all = line_order.size
    ordered_s = order_seconds[line_order]
    line_ids = np.array([f"{100_000 + i}" for i in range(n_all)], dtype=object)
    ordered_at = start + pd.to_timedelta(ordered_s, unit="s")
    order_lines = pd.DataFrame({
        "line_id": line_ids,
        "order_id": np.char.add("O", (5000 + line_order).astype(str)).astype(object),
        "order_number": np.char.add("#", (1001 + line_order).astype(str)).astype(object),
        "customer_id": customer[line_order],
        "product_id": products["product_id"].to_numpy()[line_product],
        "quantity": line_quantity,
        "unit_price": np.round(line_price, 2),
        "currency": currency[line_order],
        "ordered_at": ordered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    })

    # ---- what comes back ------------------------------------------------------------------------
    merch_idx = np.flatnonzero(merch)
    m_product = line_product[merch_idx]
    m_quantity = line_quantity[merch_idx]
    is_wholesale = m_quantity >= 12
    logit = -2.4 + effect[m_product] - 0.8 * is_wholesale + 0.3 * (m_quantity > 1)
    returned = rng.random(merch_idx.size) < 1.0 / (1.0 + np.exp(-logit))
    cancelled = rng.random(merch_idx.size) < config.cancel_share
    giant_pos = np.flatnonzero(merch_idx == int(np.flatnonzero(arrange == giant)[0]))
    cancelled[giant_pos] = True
    returned |= cancelled
    delay = np.where(cancelled, rng.uniform(0.05, 0.4, merch_idx.size),
                     np.exp(rng.normal(np.log(9.0), 0.55, merch_idx.size)))
    very_late = (~cancelled) & (rng.random(merch_idx.size) < 0.004)
    delay[very_late] = rng.uniform(95, 160, very_late.sum())
    # partial returns: a multi-unit line brings back part of its units, sometimes in 2–3 parts
    units = m_quantity.copy()
    partial = returned & ~cancelled & (m_quantity > 1) & (rng.random(merch_idx.size) < 0.7)
    units[partial] = np.maximum(1, np.floor(m_quantity[partial] * rng.uniform(0.1, 0.9, partial.sum()))).astype(np.int64)
    parts = np.where(returned & ~cancelled & (units >= 2) & (rng.random(merch_idx.size) < 0.35),
                     rng.integers(2, 4, merch_idx.size), 1)
    parts = np.minimum(parts, np.maximum(units, 1))
    rows = np.flatnonzero(returned)
    event_line = np.repeat(rows, parts[rows])
    part_no = np.concatenate([np.arange(k) for k in parts[rows]]) if rows.size else np.array([], dtype=np.int64)
    k = parts[event_line]
    base = units[event_line] // k
    event_units = base + (part_no < units[event_line] - base * k)
    arrival_days = (ordered_s[merch_idx][event_line] / float(DAY) + delay[event_line]
                    + part_no * rng.uniform(2, 12, event_line.size))

    # the return desk's calendar: Monday to Friday, closed on public holidays
    horizon = config.days + 200
    calendar = start + pd.to_timedelta(np.arange(horizon), unit="D")
    holidays = [h for h in french_holidays(range(start.year, calendar[-1].year + 1)) if start <= h <= calendar[-1]]
    open_days = (calendar.dayofweek < 5) & ~calendar.isin(pd.DatetimeIndex(holidays))
    arrival_day = np.floor(arrival_days).astype(np.int64)
    registered_day = _next_open_day(arrival_day, open_days)
    moved = registered_day != arrival_day
    hour = np.where(moved, rng.uniform(8, 12, event_line.size), np.clip((arrival_days % 1) * 24, 8, 17))
    registered_s = registered_day * DAY + np.round(hour * 3600)
    registered_s = np.maximum(registered_s, ordered_s[merch_idx][event_line] + 600)
    keep = registered_day < config.days      # the data ends with the last order day
    event_line, event_units, registered_s = event_line[keep], event_units[keep], registered_s[keep]
    order_ = np.lexsort((registered_s,))
    event_line, event_units, registered_s = event_line[order_], event_units[order_], registered_s[order_]
    returns = pd.DataFrame({
        "return_id": [f"R{70_000 + i}" for i in range(event_line.size)],
        "line_id": line_ids[merch_idx[event_line]],
        "quantity": event_units.astype(np.int64),
        "returned_at": (start + pd.to_timedelta(registered_s, unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })

    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    for name, table in (("products", products), ("order_lines", order_lines), ("returns", returns)):
        for stale in (out / f"{name}.csv", out / f"{name}.parquet"):
            stale.unlink(missing_ok=True)
        if config.file_format == "parquet":
            table.to_parquet(out / f"{name}.parquet", index=False)
        else:
            table.to_csv(out / f"{name}.csv", index=False)
    returned_lines = pd.unique(returns["line_id"])
    manifest = {
        "config": asdict(config),
        "n_products": int(n_products), "n_pseudo_products": len(PSEUDO_PRODUCTS),
        "n_lines": int(n_all), "n_merchandise_lines": int(merch.sum()), "n_orders": int(n_orders),
        "n_returns": int(len(returns)), "n_returned_lines": int(len(returned_lines)),
        "n_multi_part_lines": int((returns["line_id"].value_counts() > 1).sum()),
        "n_categories": int(products["category"].iloc[:n_products].nunique()),
        "giant_line_id": str(line_ids[int(np.flatnonzero(arrange == giant)[0])]),
        "first_order": ordered_at.min().isoformat(), "last_order": ordered_at.max().isoformat(),
        "holidays": [f"{h:%Y-%m-%d}" for h in holidays],
        "returns_on_closed_days": int((~open_days[(registered_s // DAY).astype(np.int64)]).sum()),
    }
    (out / "truth" / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
