"""The demo shop's catalogue: categories, brands, products and their planted causes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CATEGORIES", "Category", "make_brands", "make_products", "LADDERS"]


@dataclass(frozen=True)
class Category:
    name: str
    system: str           # size system (see returnrisk.sizes)
    share: float          # share of the catalogue
    price: float          # median list price
    changed_mind: float   # base hazard of "changed mind" returns
    popularity: float     # sales weight of the category


CATEGORIES: tuple[Category, ...] = (
    Category("dresses", "letter", 0.20, 79.0, 0.10, 1.1),
    Category("tops", "letter", 0.18, 32.0, 0.06, 1.3),
    Category("knitwear", "letter", 0.10, 59.0, 0.07, 0.9),
    Category("trousers", "eu", 0.12, 55.0, 0.06, 1.0),
    Category("jeans", "waist", 0.12, 69.0, 0.06, 1.1),
    Category("shoes", "shoe", 0.14, 89.0, 0.07, 1.0),
    Category("bags", "unsized", 0.08, 99.0, 0.06, 0.6),
    Category("accessories", "unsized", 0.06, 25.0, 0.04, 0.7),
)

#: The ordinal range each system's products are sold in (see returnrisk.sizes for units).
LADDERS: dict[str, tuple[float, float, float]] = {
    # system: (lowest ordinal, highest ordinal, step)
    "letter": (-2.0, 3.0, 1.0),    # XS … XXL
    "eu": (17.0, 24.0, 1.0),       # 34 … 48
    "waist": (26.0, 38.0, 1.0),    # W26 … W38
    "shoe": (36.0, 45.0, 1.0),     # 36 … 45 (half sizes for some brands)
}

_BRAND_WORDS = (
    "Maison", "Atelier", "Nord", "Lune", "Vela", "Oka", "Brume", "Sable", "Rive", "Alba",
    "Cosmo", "Linea", "Terra", "Fjord", "Mistral", "Opal", "Kaia", "Solene", "Trame", "Aube",
    "Cirrus", "Ondine", "Pavot", "Roche", "Selva", "Tilia", "Vent", "Zeste", "Iris", "Nacre",
)


def make_brands(rng: np.random.Generator, n_brands: int) -> pd.DataFrame:
    """Brands with a price tier and a size offset (a brand whose sizes run small or large)."""
    names = [f"{_BRAND_WORDS[i % len(_BRAND_WORDS)]}" + (f" {i // len(_BRAND_WORDS) + 1}" if i >= len(_BRAND_WORDS) else "")
             for i in range(n_brands)]
    offset = np.zeros(n_brands)
    kind = rng.random(n_brands)
    offset[kind < 0.12] = rng.uniform(0.5, 0.8, (kind < 0.12).sum())          # runs small
    offset[(kind >= 0.12) & (kind < 0.20)] = -rng.uniform(0.5, 0.8, ((kind >= 0.12) & (kind < 0.20)).sum())
    return pd.DataFrame({
        "brand": names,
        "brand_tier": rng.lognormal(0.0, 0.25, n_brands),
        "brand_fit_offset": offset,
        "half_sizes": rng.random(n_brands) < 0.4,
    })


_GOOD_DESC = {
    "material": ["Made of 100% organic cotton.", "Fabric: 95% viscose, 5% elastane.",
                 "Soft merino wool blend (70% wool, 30% polyamide).", "Genuine leather upper, rubber sole.",
                 "Linen and cotton mix, breathable.", "Recycled polyester lining."],
    "dimensions": ["Length 98 cm in size M.", "Dimensions: 32 x 24 x 12 cm.", "Inside leg 81 cm.",
                   "Heel height 5 cm.", "Sleeve length 62 cm; chest 104 cm in size L.",
                   "Strap drop 55 cm, weighs 600 g."],
    "fit": ["Regular fit, true to size.", "Model is 1.76 m and wears size S.", "Slim fit: if between sizes, size up.",
            "Relaxed fit with a dropped shoulder.", "High-waisted, straight leg fit.", "Fits true to size; wide feet may size up."],
    "care": ["Machine wash at 30°C.", "Dry clean only.", "Hand wash cold, dry flat."],
}
_VAGUE_DESC = ["Beautiful piece for every day.", "A must-have this season.", "Perfect for any occasion.",
               "Our favourite new arrival.", "Elegant and timeless.", "You will love it."]


def _descriptions(rng: np.random.Generator, poor: np.ndarray) -> np.ndarray:
    out = np.empty(poor.size, dtype=object)
    for i, is_poor in enumerate(poor):
        if is_poor:
            k = rng.integers(1, 3)
            out[i] = " ".join(rng.choice(_VAGUE_DESC, k, replace=False))
        else:
            parts = [rng.choice(_VAGUE_DESC)]
            for key in ("material", "fit", "dimensions", "care"):
                if key in ("material", "fit") or rng.random() < 0.6:
                    parts.append(rng.choice(_GOOD_DESC[key]))
            out[i] = " ".join(parts)
    return out


def make_products(
    rng: np.random.Generator, n_products: int, brands: pd.DataFrame,
    start: pd.Timestamp, days: int,
) -> pd.DataFrame:
    """The catalogue with its true (hidden) properties.

    Planted causes: ``fit_offset`` (> 0 runs small: the customer needs a larger label),
    ``no size guide`` (customers pick the wrong size more often), ``misleading_photos``,
    ``poor_description``, ``quality_issue``, ``packaging_issue``.
    """
    shares = np.array([c.share for c in CATEGORIES])
    cat_idx = rng.choice(len(CATEGORIES), n_products, p=shares / shares.sum())
    cats = [CATEGORIES[i] for i in cat_idx]
    system = np.array([c.system for c in cats], dtype=object)
    sized = system != "unsized"
    brand_idx = rng.integers(0, len(brands), n_products)
    tier = brands["brand_tier"].to_numpy()[brand_idx]
    base_price = np.array([c.price for c in cats])
    price = np.round(base_price * tier * rng.lognormal(0.0, 0.3, n_products), 0) - 0.01
    price = np.maximum(price, 4.99)

    # product-specific fit offset on top of the brand's
    own = np.zeros(n_products)
    u = rng.random(n_products)
    small = sized & (u < 0.12)
    large = sized & (u >= 0.12) & (u < 0.20)
    own[small] = rng.uniform(0.8, 1.3, small.sum())
    own[large] = -rng.uniform(0.8, 1.3, large.sum())
    fit_offset = np.where(sized, own + brands["brand_fit_offset"].to_numpy()[brand_idx], 0.0)

    has_guide = np.where(sized, rng.random(n_products) < 0.70, False)
    misleading = rng.random(n_products) < 0.09
    poor_desc = rng.random(n_products) < 0.09
    quality = rng.random(n_products) < 0.07
    packaging = rng.random(n_products) < 0.04
    n_photos = np.where(misleading, rng.integers(1, 3, n_products), rng.integers(3, 9, n_products))

    # launches: 40 % exist before the history starts, the rest arrive throughout it
    existing = rng.random(n_products) < 0.40
    launch_days = np.where(existing, -rng.integers(30, 720, n_products), rng.integers(0, days - 20, n_products))
    created_at = start + pd.to_timedelta(launch_days, unit="D") + pd.to_timedelta(rng.integers(8, 18, n_products), unit="h")

    products = pd.DataFrame({
        "product_id": [f"P{i:06d}" for i in range(1, n_products + 1)],
        "category": [c.name for c in cats],
        "brand": brands["brand"].to_numpy()[brand_idx],
        "price": price,
        "has_size_guide": has_guide,
        "n_photos": n_photos,
        "description": _descriptions(rng, poor_desc),
        "created_at": created_at,
        # hidden truth
        "size_system": system,
        "fit_offset": fit_offset,
        "half_sizes": np.where(system == "shoe", brands["half_sizes"].to_numpy()[brand_idx], False),
        "misleading_photos": misleading,
        "poor_description": poor_desc,
        "quality_issue": quality,
        "packaging_issue": packaging,
        "popularity": rng.lognormal(0.0, 1.0, n_products) * np.array([c.popularity for c in cats]),
        "changed_mind_base": np.array([c.changed_mind for c in cats]),
        "launch_day": launch_days,
    })
    return products
