"""Which products are not merchandise: postage, fees, gift cards, gift wrap, tips, insurance, deposits.

Shops record such charges as order lines of pseudo-products ("Frais de port", "Shipping",
"Payment fee"…). They are not goods a customer keeps or sends back, so they must not count in
return rates, train the model or get fix suggestions: the loader sets their lines (and the
returns of those lines) aside, and ``validate`` reports them.

This module is the **one rule set** that decides. A product is not merchandise when

* the platform says so — ``platform_flags`` maps a ``product_id`` to a kind (an importer feeds
  the platform's own flags here: Shopify's gift cards and shipping lines, WooCommerce fees…;
  :func:`platform_line_kinds` turns a line's flags into its kind, :func:`non_merchandise_lines`
  decides for order lines as they come from a platform), or
* its ``product_id``, ``title`` or ``category`` matches one of :data:`RULES` (whole words, any
  case, English, French, German, Spanish and Italian), e.g. ``Frais de port``, ``SHIPPING``,
  ``Gift card``; a field of more than :data:`MAX_WORDS` words is a product name, not a charge, and
  is not matched. The description is not read: "free shipping" in a dress's description does not
  make it postage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["RULES", "KINDS", "PLATFORM_KINDS", "MAX_WORDS", "MerchandiseReport", "non_merchandise_products",
           "non_merchandise_lines", "platform_line_kinds", "FIELDS"]

#: kind → pattern (matched on lower-case text, as whole words).
RULES: dict[str, str] = {
    "shipping": r"shipping|postage|delivery (?:fee|charge|cost)s?|frais (?:de port|d'envoi|de livraison|d'exp[ée]dition)"
                r"|livraison(?: \w+)?|versandkosten|versand|gastos de env[ií]o|env[ií]o|spese di spedizione"
                r"|colissimo|chronopost|mondial relay",
    "gift_card": r"gift ?cards?|gift vouchers?|gift certificates?|cartes? cadeaux?|cartes?-cadeaux?|bons? d'achat"
                 r"|ch[èe]ques? cadeaux?|gutscheine?|tarjetas? regalo|buoni? regalo",
    "gift_wrap": r"gift ?wrap(?:ping)?|emballages? cadeaux?|paquets? cadeaux?|geschenkverpackung",
    "fee": r"(?:payment|service|handling|processing|cod|cash on delivery) fees?|surcharge|frais (?:de paiement|de service"
           r"|de dossier|de traitement|bancaires)|contre-remboursement|zahlungsgeb[üu]hr|nachnahme",
    "tip": r"tips?|pourboires?|trinkgeld|propinas?|mancia",
    "insurance": r"(?:shipping |parcel |package )?insurance|assurance(?: colis| livraison)?|versicherung",
    "deposit": r"deposit|consigne|pfand",
    "adjustment": r"discount|rounding|adjustment|remise|arrondi|ajustement|rabatt",
}

#: Kinds only the platform can tell (no name says so): goods that never ship (digital, service,
#: virtual products: never returned) and items that ship but name no product (custom items).
PLATFORM_KINDS: tuple[str, ...] = ("not_shipped", "no_product")

#: Longer fields are product names ("Leather boots with free shipping box") and are not matched.
MAX_WORDS = 5

#: The kinds of non-merchandise a product can be.
KINDS: tuple[str, ...] = tuple(RULES)

#: Product columns the rules read (those present).
FIELDS: tuple[str, ...] = ("product_id", "title", "category")

# a whole field made of one of these words only ("tip", "deposit", "discount" inside a product
# name such as "Pointed tip boots" are merchandise): the short, ambiguous kinds
_WHOLE_FIELD = {"tip", "deposit", "adjustment", "insurance"}
_PATTERNS = {
    kind: re.compile(rf"^\W*(?:{pattern})\W*$" if kind in _WHOLE_FIELD else rf"(?<![\w-])(?:{pattern})(?![\w-])")
    for kind, pattern in RULES.items()
}

_ANY = re.compile("|".join(f"(?:{p.pattern})" for p in _PATTERNS.values()))


@dataclass
class MerchandiseReport:
    """The products found not to be merchandise, and what was set aside because of them."""

    products: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["product_id", "kind", "source"]))
    lines: int = 0
    units: float = 0.0
    returns: int = 0

    @property
    def empty(self) -> bool:
        return len(self.products) == 0

    def by_kind(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.products["kind"].value_counts().sort_index().items()}

    def to_dict(self) -> dict:
        return {
            "products": [{"product_id": str(r.product_id), "kind": str(r.kind), "source": str(r.source)}
                         for r in self.products.head(50).itertuples()],
            "n_products": int(len(self.products)), "by_kind": self.by_kind(),
            "lines": int(self.lines), "units": float(self.units), "returns": int(self.returns),
        }


def _normalised(values: pd.Series) -> pd.Series:
    text = values.astype("string[pyarrow]").str.lower()
    return text.str.replace(r"[_\s]+", " ", regex=True).str.strip()


def non_merchandise_products(products: pd.DataFrame,
                             platform_flags: Mapping[str, str] | pd.Series | None = None) -> pd.DataFrame:
    """The products that are not merchandise: ``product_id``, ``kind`` and ``source``.

    ``source`` is ``platform`` for a product flagged in ``platform_flags`` (``product_id`` →
    kind, e.g. ``{"9001": "gift_card"}``; such a flag wins), else the field that matched
    (``title``, ``category`` or ``product_id``). Vectorised: one regular-expression pass per kind
    over the distinct values of each field.
    """
    ids = products["product_id"].astype(object)
    kind = pd.Series(None, index=products.index, dtype=object)
    source = pd.Series(None, index=products.index, dtype=object)
    for column in FIELDS:
        if column not in products.columns:
            continue
        text = _normalised(products[column])
        distinct = pd.Series(pd.unique(text.dropna().to_numpy(dtype=object)), dtype=object)
        distinct = distinct[distinct.str.count(" ").to_numpy() < MAX_WORDS]
        if distinct.empty:
            continue
        distinct = distinct[distinct.str.contains(_ANY).to_numpy(dtype=bool)]  # one pass, then the kinds
        found = pd.Series(None, index=distinct, dtype=object)
        for name, pattern in _PATTERNS.items():
            if distinct.empty:
                break
            hit = distinct.str.contains(pattern).to_numpy(dtype=bool) & found.isna().to_numpy()
            found.iloc[np.flatnonzero(hit)] = name
        matched = text.map(found).astype(object).where(text.notna(), None)
        new = kind.isna() & matched.notna()
        kind[new] = matched[new]
        source[new] = column
    if platform_flags is not None:
        flags = pd.Series(platform_flags, dtype=object) if not isinstance(platform_flags, pd.Series) \
            else platform_flags.astype(object)
        flags = flags[flags.notna()]
        if not flags.empty:
            given = ids.map(lambda pid: flags.get(pid)) if len(flags) < 64 else ids.map(flags)
            given = given.astype(object).where(given.notna(), None)
            hit = given.notna()
            kind[hit] = given[hit].astype(str)
            source[hit] = "platform"
    out = pd.DataFrame({"product_id": ids, "kind": kind, "source": source})
    return out[out["kind"].notna()].reset_index(drop=True)


def _platform_kinds(lines: pd.DataFrame) -> np.ndarray:
    kind = lines["kind"].astype(object).fillna("item").to_numpy()
    gift = lines["gift_card"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    shipped = lines["shipped"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    no_product = lines["product_id"].isna().to_numpy()
    found = np.select(
        [kind == "shipping", gift, kind == "fee", kind == "tip", no_product & ~shipped, ~shipped, no_product],
        ["shipping", "gift_card", "fee", "tip", "fee", "not_shipped", "no_product"],
        default="",
    ).astype(object)
    found[found == ""] = None
    return found


def platform_line_kinds(lines: pd.DataFrame) -> pd.Series:
    """The kind the platform's own flags give each order line (``None``: the flags say merchandise).

    ``lines`` has ``kind`` (the platform's kind of line: ``item``, ``shipping``, ``fee`` or ``tip``),
    ``gift_card`` (bool or missing), ``shipped`` (bool or missing: unknown counts as shipped) and
    ``product_id`` (missing: no product). In this order: a shipping line is ``shipping``; a gift
    card ``gift_card``; a fee or tip line ``fee`` / ``tip``; an item without product that does not
    ship (a custom fee item) ``fee``; a product that never ships ``not_shipped``; an item that ships
    without product ``no_product``.
    """
    return pd.Series(_platform_kinds(lines), index=lines.index, dtype=object)


def non_merchandise_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """``kind`` and ``source`` of each order line that is not merchandise (``None`` for merchandise).

    The platform's flags (:func:`platform_line_kinds`) are fed to :func:`non_merchandise_products`
    as ``platform_flags`` — so they win, ``source`` ``platform`` — and the line's ``title`` (when
    the frame has one) is matched by the same :data:`RULES` as a product's. One rule set for the
    loader and the importers. Each distinct (flag, title) pair is decided once, so a million lines
    of a few thousand products cost a few thousand matches.
    """
    flags = _platform_kinds(lines)
    flag_codes, _ = pd.factorize(flags, use_na_sentinel=True)
    if "title" in lines.columns:
        title_codes, titles = pd.factorize(lines["title"], use_na_sentinel=True)
        titles = np.asarray(titles, dtype=object)
    else:
        title_codes, titles = np.full(len(lines), -1), np.array([], dtype=object)
    codes, _ = pd.factorize((flag_codes.astype(np.int64) + 1) * (len(titles) + 1) + title_codes + 1)
    first = np.empty(int(codes.max()) + 1 if len(codes) else 0, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)   # each pair's first line (O(n), no sort)
    keys = np.char.add("line:", np.arange(len(first)).astype(str)).astype(object)
    first_title = title_codes[first]
    pair_titles = np.where(first_title >= 0, titles[np.maximum(first_title, 0)] if len(titles) else None, None)
    pairs = pd.DataFrame({"product_id": keys, "title": pair_titles})
    given = pd.Series(flags[first], index=keys, dtype=object)
    found = non_merchandise_products(pairs, given[given.notna()].astype(str)).set_index("product_id")
    decided = {key: (k, src) for key, k, src in zip(found.index, found["kind"], found["source"])}
    kind = np.array([decided.get(key, (None, None))[0] for key in keys], dtype=object)
    source = np.array([decided.get(key, (None, None))[1] for key in keys], dtype=object)
    return pd.DataFrame({"kind": kind[codes], "source": source[codes]}, index=lines.index)
