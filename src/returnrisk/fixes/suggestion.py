"""What a fix suggestion is: typed records for the suggestion, its evidence and its impact.

:class:`FixSuggestion` holds one suggestion (a lever on a product, or on one of its sizes), its
:class:`Evidence` (reason counts against the reference, credible interval, SHAP contributions,
fit or page details) and its :class:`Impact` (returns avoided per sale and how it was
estimated, the money per return). These records are the one definition of the suggestions'
JSON — the ``.json`` file, ``GET /v1/fixes`` and ``GET /v1/products/{id}/fixes``:

* :meth:`FixSuggestion.to_dict` gives that JSON (one serialiser, pydantic's, for every output);
* the API's schema is these dataclasses (pydantic reads each field's ``metadata``: its
  ``description``, bounds, and ``exclude_if`` for the parts that only some levers have — fit
  evidence, size table, page attributes, re-scoring figures — which are left out, not ``null``,
  when they do not apply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter
from typing_extensions import TypedDict

from returnrisk.fixes.levers import LEVERS

__all__ = [
    "FIX_FIELDS",
    "Bilingual",
    "Evidence",
    "FixSuggestion",
    "Impact",
    "KeptSizesEvidence",
    "Lever",
    "PageAttribute",
    "ReasonEvidence",
    "ShapEvidence",
    "SizeEvidence",
    "suggestions_json",
]

Lever = Literal[LEVERS]  # type: ignore[valid-type]

#: The headline fields of every suggestion, in order (the CSV's first columns).
FIX_FIELDS = (
    "priority_rank", "fix_id", "product_id", "size", "category", "brand", "lever", "expected_returns_avoided_per_month",
    "expected_savings_per_month", "confidence", "flagged_since", "sales_at_flag", "sales", "sales_per_month",
)


def _absent(value: Any) -> bool:
    return value is None


def _doc(text: str, **more: Any) -> dict:
    return {"description": text, **more}


#: Metadata of a part that only some levers have: left out of the JSON when it does not apply.
_OPTIONAL = {"exclude_if": _absent}


class Bilingual(TypedDict):
    """The same text in English and in French."""

    en: str
    fr: str


@dataclass
class ReasonEvidence:
    """Returns of one reason code of the lever, against the category."""

    code: str
    label: Bilingual
    returns: int
    rate: float | None = field(metadata=_doc("Returns for this reason per exposed sale."))
    category_rate: float | None = field(metadata=_doc("The same rate in the reference (null if none)."))


@dataclass
class ShapEvidence:
    """Mean SHAP contribution of one of the lever's model features over the product's recent lines.

    ``contribution_<group>_score`` is there for the reason group(s) of the lever only: the
    lever's group, or ``too_small`` and ``too_large`` for a size guide.
    """

    feature: str
    label: Bilingual
    value: float | None = field(metadata=_doc("Mean value of the feature (null when missing)."))
    contribution_return_log_odds: float
    contribution_too_small_score: float | None = field(default=None, metadata=_OPTIONAL)
    contribution_too_large_score: float | None = field(default=None, metadata=_OPTIONAL)
    contribution_looks_different_score: float | None = field(default=None, metadata=_OPTIONAL)
    contribution_not_as_described_score: float | None = field(default=None, metadata=_OPTIONAL)
    contribution_quality_score: float | None = field(default=None, metadata=_OPTIONAL)
    contribution_other_score: float | None = field(default=None, metadata=_OPTIONAL)


@dataclass
class KeptSizesEvidence:
    """Fit levers: how the sizes customers kept compare with their usual size."""

    kept_lines: int
    kept_offset: float | None = field(metadata=_doc("Mean kept size minus usual size, in sizes."))
    category_kept_offset: float | None
    p_kept_offset_beyond_margin: float | None
    fit_margin: float


@dataclass
class SizeEvidence:
    """Fit levers on a whole product: each size's sales, returns of the lever's reason and P(worse)."""

    size: str
    sales: int
    returns: int
    rate: float | None
    p_worse: float | None


@dataclass
class PageAttribute:
    """Page levers: one attribute of the product page against its category's typical value."""

    value: float | None
    category_typical: float | None


@dataclass(kw_only=True)
class Impact:
    """What the fix would avoid per sale, how that was estimated, and what a return costs.

    Keyword-only: the re-scoring figures (page levers only) default to absent.
    """

    excess_returns_per_sale: float | None
    method: str
    changed: dict[str, float | None] | None = field(default=None, metadata=_doc(
        "Page levers: the feature values set to the category's typical page.", **_OPTIONAL))
    returns_avoided_per_sale: float | None
    model_drop_page_only: float | None = field(default=None, metadata=_doc(
        "Page levers: mean drop in P(return), the product's own history set aside.", **_OPTIONAL))
    model_drop_with_history: float | None = field(default=None, metadata=_doc(
        "Page levers: the same drop with the product's history kept.", **_OPTIONAL))
    lines_rescored: int | None = field(default=None, metadata=_doc(
        "Page levers: recent lines re-scored.", **_OPTIONAL))
    return_cost: float | None
    return_cost_source: str
    margin_loss_per_return: float | None
    line_value: float | None
    note: str


@dataclass
class Evidence:
    """Why the lever is suggested: the counts, the posterior, the model's view and the details."""

    sales: int
    exposure: float | None = field(metadata=_doc("Sales weighted by how much of their return window passed."))
    sales_per_month: float | None
    returns: int = field(metadata=_doc("Returns for the lever's reasons."))
    rate: float | None
    reference_rate: float | None
    reference: str = field(metadata=_doc("What the rate is compared with (category, guided products, shop)."))
    excess_rate: float | None = field(metadata=_doc("Posterior-mean excess of the rate over the reference."))
    credible_interval: list[float | None]
    credible_level: float
    p_worse: float | None = field(metadata=_doc("Posterior probability that the rate is above the reference."))
    reasons: list[ReasonEvidence]
    shap: list[ShapEvidence]
    impact: Impact
    fit: KeptSizesEvidence | None = field(default=None, metadata=_doc("Fit levers only.", **_OPTIONAL))
    sizes: list[SizeEvidence] | None = field(
        default=None, metadata=_doc("Fit levers on a whole product only: its sizes.", **_OPTIONAL))
    page: dict[str, PageAttribute] | None = field(default=None, metadata=_doc("Page levers only.", **_OPTIONAL))


@dataclass
class FixSuggestion:
    """One fix suggestion: a lever on a product (or one of its sizes), ranked by expected savings."""

    priority_rank: int = field(metadata=_doc("1 = the largest expected savings."))
    fix_id: str = field(metadata=_doc("Stable, URL-safe id of this fix (product, size and lever): "
                                      "the key of its status and measured effect."))
    product_id: str
    size: str | None = field(metadata=_doc("The size the problem lives in; null for the whole product."))
    category: str
    brand: str | None
    lever: Lever
    lever_label: Bilingual
    expected_returns_avoided_per_month: float = field(metadata=_doc("Model estimate at the current sales."))
    expected_savings_per_month: float = field(
        metadata=_doc("Return costs and lost margin avoided (model estimate)."))
    confidence: float = field(metadata=_doc("Posterior probability behind the suggestion.", ge=0, le=1))
    flagged_since: str | None = field(
        metadata=_doc("First weekly as-of date at which it would have been flagged."))
    sales_at_flag: int | None = field(metadata=_doc("Sales of the product (or size) at that date."))
    sales: int
    sales_per_month: float
    evidence: Evidence = field(metadata=_doc(
        "Reason counts and rates vs the reference, credible interval, SHAP contributions, page attributes, "
        "impact method and costs."))
    message: Bilingual
    estimate_note: Bilingual

    def to_dict(self) -> dict:
        """The suggestion's JSON object (parts that do not apply to its lever left out)."""
        return _ONE.dump_python(self, mode="json")


_ONE = TypeAdapter(FixSuggestion)
_MANY = TypeAdapter(list[FixSuggestion])


def suggestions_json(suggestions: list[FixSuggestion]) -> list[dict]:
    """The JSON objects of ``suggestions`` (one call for many: the files and the API)."""
    return _MANY.dump_python(suggestions, mode="json")
