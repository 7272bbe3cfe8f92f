"""Which products are not merchandise: postage, fees, gift cards, gift wrap, tips, insurance, deposits.

Shops record such charges as order lines of pseudo-products ("Frais de port", "Shipping",
"Payment fee"…). They are not goods a customer keeps or sends back, so they must not count in
return rates, train the model or get fix suggestions: the loader sets their lines (and the
returns of those lines) aside, and ``validate`` reports them.

This module is the **one rule set** that decides. A product is not merchandise when

* the platform says so — ``platform_flags`` maps a ``product_id`` to a kind (an importer feeds
  the platform's own flags here: Shopify's gift cards and shipping lines, WooCommerce fees…), or
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

__all__ = ["RULES", "KINDS", "MAX_WORDS", "MerchandiseReport", "non_merchandise_products", "FIELDS"]

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
