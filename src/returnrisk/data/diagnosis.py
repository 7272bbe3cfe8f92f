"""What a shop will and will not get from its data, and what in it deserves a look.

:func:`diagnose_shop` runs on a loaded :class:`~returnrisk.data.loader.Shop` (vectorised: a few
column passes) and gives

* ``capabilities`` — one boolean per part of the product, with a sentence for each that is
  false saying why and which data would turn it on (see docs/data-contract.md):

  ``size_advice``       sizes sold on the lines and returns saying too small / too large;
  ``reason_levers``     return reasons (codes, or texts the classifier reads) on enough returns;
  ``refund_kpis``       refund dates (``refunded_at``);
  ``cost_kpis``         return costs (``return_cost``) on most returns — else costs are estimated
                        from the default cost per return;
  ``customer_history``  customers who come back (a stable ``customer_id`` across orders).

* ``warnings`` — :class:`~returnrisk.data.problems.Problem` objects that set nothing aside: those
  the loader found (placeholder texts read as empty, returns more than 90 days after the order)
  plus outlier quantities (:mod:`returnrisk.data.outliers`), pseudo-products that are not
  merchandise (:mod:`returnrisk.data.merchandise`) and a ``category`` column that holds colours
  or loose words instead of product types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop
from returnrisk.data.outliers import FACTOR, outlier_mask, outlier_threshold
from returnrisk.data.problems import MAX_EXAMPLES, Problem

__all__ = ["CAPABILITIES", "Diagnosis", "diagnose_shop", "COLOUR_WORDS", "looks_like_colour"]

#: The capabilities reported, in this order.
CAPABILITIES = ("size_advice", "reason_levers", "refund_kpis", "cost_kpis", "customer_history")

#: Thresholds of the capabilities (documented in docs/data-contract.md).
MIN_SIZED_SHARE = 0.2          # of the lines have a size
MIN_FIT_RETURNS = 30           # returns saying too small / too large
MIN_REASON_SHARE = 0.1         # of the returns have a reason code (given or read from the text)
MIN_REASON_RETURNS = 30
MIN_COST_SHARE = 0.5           # of the returns have a return_cost
MIN_REPEAT_SHARE = 0.05        # of the orders come from a customer with an earlier order
#: A category column with at least this many values is checked for colours and loose words.
MANY_CATEGORIES = 100

COLOUR_WORDS = frozenset(
    "noir noire blanc blanche bleu bleue rouge vert verte jaune rose gris grise beige marron violet violette orange "
    "kaki bordeaux camel écru ecru marine turquoise corail moutarde taupe anthracite argent doré dore prune menthe "
    "lilas saumon fuchsia ivoire crème creme chocolat cognac caramel émeraude emeraude olive sable nude "
    "black white blue red green yellow pink grey gray brown purple navy ivory olive sand cream khaki burgundy "
    "teal coral mustard silver gold mint lilac salmon charcoal tan maroon lavender "
    "schwarz weiß weiss blau rot grün gelb rosa braun lila "
    "negro blanco azul rojo verde amarillo nero bianco rosso giallo".split()
)
_FIRST_WORD = re.compile(r"^\W*([^\W\d_]+)")


def looks_like_colour(value: str) -> bool:
    """Whether a category value starts with a colour word ("Bleu marine", "navy", "rouge brique")."""
    match = _FIRST_WORD.match(str(value).lower())
    return bool(match) and match.group(1) in COLOUR_WORDS


@dataclass
class Diagnosis:
    capabilities: dict[str, bool]
    explanations: dict[str, str]
    warnings: list[Problem] = field(default_factory=list)
    outliers: dict = field(default_factory=dict)

    def capabilities_dict(self) -> dict:
        """The ``capabilities`` object of ``validate --json``: booleans, and why for each false one."""
        return {**self.capabilities, "explanations": dict(self.explanations)}

    def to_dict(self) -> dict:
        return {"capabilities": self.capabilities_dict(), "warnings": [w.to_dict() for w in self.warnings],
                "outliers": self.outliers}


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _capabilities(shop: Shop, cost_per_return: float) -> tuple[dict[str, bool], dict[str, str]]:
    lines, returns = shop.order_lines, shop.returns
    n_lines, n_returns = len(lines), len(returns)
    ok: dict[str, bool] = {}
    why: dict[str, str] = {}

    sized = int(lines["size"].notna().sum()) if "size" in lines.columns else 0
    groups = returns["reason_group"].astype(object) if "reason_group" in returns.columns else pd.Series([], dtype=object)
    known_code = returns["reason_code"].notna().to_numpy() if n_returns else np.zeros(0, bool)
    fit = int((groups.isin(["too_small", "too_large"]).to_numpy() & known_code).sum()) if n_returns else 0
    if _share(sized, n_lines) < MIN_SIZED_SHARE:
        ok["size_advice"] = False
        why["size_advice"] = (
            f"no size advice: {_share(sized, n_lines):.0%} of the order lines have a size — the catalogue looks "
            "unsized. Put the size sold on each line in order_lines.size (the variant's size option) to get it")
    elif fit < MIN_FIT_RETURNS:
        ok["size_advice"] = False
        why["size_advice"] = (
            f"no size advice: only {fit} returns say 'too small' or 'too large' (at least {MIN_FIT_RETURNS} are "
            "needed). Record return reasons (reason_code, or the customer's words in reason_text) to get it")
    else:
        ok["size_advice"] = True

    with_reason = int(known_code.sum())
    if n_returns == 0 or with_reason < MIN_REASON_RETURNS or _share(with_reason, n_returns) < MIN_REASON_SHARE:
        ok["reason_levers"] = False
        why["reason_levers"] = (
            f"no fix suggestions by reason: {_share(with_reason, n_returns):.0%} of the returns have a reason "
            f"({with_reason:,} of {n_returns:,}). Record reasons (reason_code, or the customer's words in "
            "reason_text) — a return form or portal does it — to learn which products come back too small, "
            "not as described or damaged")
    else:
        ok["reason_levers"] = True

    refunded = int(returns["refunded_at"].notna().sum()) if "refunded_at" in returns.columns else 0
    ok["refund_kpis"] = refunded > 0
    if not ok["refund_kpis"]:
        why["refund_kpis"] = ("no refund KPIs: no return has a refund date. Add refunded_at to the returns to "
                              "measure refunds against your promise")

    costed = int(returns["return_cost"].notna().sum()) if "return_cost" in returns.columns else 0
    ok["cost_kpis"] = n_returns > 0 and _share(costed, n_returns) >= MIN_COST_SHARE
    if not ok["cost_kpis"]:
        why["cost_kpis"] = (
            f"return costs are estimates: {_share(costed, n_returns):.0%} of the returns have a return_cost, so "
            f"the others are counted at the default cost per return ({cost_per_return:g}, option "
            "--cost-per-return). Add return_cost (shipping + handling) for real figures")

    orders = lines[["order_id", "customer_id", "ordered_at"]].drop_duplicates("order_id")
    repeat = int(orders["customer_id"].duplicated().sum())
    ok["customer_history"] = _share(repeat, len(orders)) >= MIN_REPEAT_SHARE
    if not ok["customer_history"]:
        why["customer_history"] = (
            f"no customer history: {_share(repeat, len(orders)):.1%} of the orders come from a customer seen "
            "before — guest checkouts with a new id each time? Use a stable customer_id (the account id, or a "
            "hash of the normalised e-mail) to get per-customer risk and size profiles")
    return {name: ok[name] for name in CAPABILITIES}, {n: why[n] for n in CAPABILITIES if n in why}


def _category_warning(shop: Shop) -> Problem | None:
    products = shop.products
    counts = products["category"].astype(object).value_counts()
    if len(counts) < MANY_CATEGORIES:
        return None
    colour = np.array([looks_like_colour(v) for v in counts.index])
    colour_share = float(colour.mean())
    median_size = float(np.median(counts.to_numpy()))
    if colour_share < 0.2 and median_size > 2:
        return None
    shown = [v for v in counts.index[colour]][:3] + [v for v in counts.index[~colour]][:2]
    what = (f"{colour_share:.0%} of them colours" if colour_share >= 0.2 else "") + \
        (" and " if colour_share >= 0.2 and median_size <= 2 else "") + \
        (f"a median of {median_size:g} products each" if median_size <= 2 else "")
    return Problem(
        "products", shop.tables["products"].file, "category_not_a_type",
        f"the category column has {len(counts):,} distinct values, {what}: it looks like colours or loose "
        "words, not product types (products are compared with the others of their category)",
        "put the product type in category (dresses, jeans, knitwear, bags…); keep colours and collections in "
        "other columns (extra columns are kept and ignored)",
        column="category", values=shown, n_rows=len(counts),
    )


def _merchandise_warning(shop: Shop) -> Problem | None:
    report = shop.merchandise
    if report.empty or report.lines == 0:   # a gift card in the catalogue that nobody ordered: nothing set aside
        return None
    kinds = ", ".join(f"{k} {n}" for k, n in report.by_kind().items())
    products = report.products
    return Problem(
        "order_lines", shop.tables["order_lines"].file, "not_merchandise",
        f"{report.lines:,} order lines ({report.returns:,} of them returned) are for {len(products)} products that "
        f"are not merchandise ({kinds}): set aside — they count in no rate, no model and no fix",
        "nothing to do if these are postage, fees or gift cards; if a product was caught by mistake, rename its "
        "title or category (see the rules in docs/data-contract.md)",
        column="product_id",
        values=[f"{r.product_id} ({r.kind}, by {r.source})" for r in products.head(MAX_EXAMPLES).itertuples()],
        n_rows=report.lines,
    )


def _outliers(shop: Shop) -> tuple[dict, Problem | None]:
    lines = shop.order_lines
    quantity = lines["quantity"].to_numpy(dtype=float)
    threshold = outlier_threshold(quantity)
    mask = outlier_mask(quantity, threshold)
    info = {"threshold_units": threshold if np.isfinite(threshold) else None, "lines": int(mask.sum()),
            "units": float(quantity[mask].sum()), "units_share": float(quantity[mask].sum() / quantity.sum())
            if quantity.sum() else 0.0, "line_ids": lines["line_id"][mask].astype(str).head(20).tolist()}
    if not mask.any():
        return info, None
    returned = lines["line_id"][mask].isin(shop.returns["line_id"]).to_numpy()
    order = np.argsort(-quantity[mask], kind="stable")[:MAX_EXAMPLES]
    ids = lines["line_id"][mask].astype(str).to_numpy()[order]
    return info, Problem(
        "order_lines", shop.tables["order_lines"].file, "outlier_quantity",
        f"{int(mask.sum()):,} order lines have a quantity above {threshold:,.0f} units ({FACTOR:g} × the shop's "
        f"99th percentile), {info['units_share']:.0%} of all units; {int(returned.sum()):,} of them came back: they are "
        "left out of the units- and value-weighted rates (rates by line keep them)",
        "check these lines: a wholesale order, a cancelled order recorded as a return, or a typo in quantity?",
        column="quantity",
        values=[f"line {i}: {q:,.0f} units" for i, q in zip(ids, quantity[mask][order])],
        n_rows=int(mask.sum()),
    )


def diagnose_shop(shop: Shop, *, cost_per_return: float = 12.0) -> Diagnosis:
    """Capabilities and warnings of a loaded shop (see the module docstring)."""
    capabilities, explanations = _capabilities(shop, cost_per_return)
    warnings = list(shop.warnings)
    outliers, outlier_warning = _outliers(shop)
    for found in (outlier_warning, _merchandise_warning(shop), _category_warning(shop)):
        if found is not None:
            warnings.append(found)
    return Diagnosis(capabilities, explanations, warnings, outliers)
