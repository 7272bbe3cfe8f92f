"""The fixed vocabulary of levers: what each one means, which return reasons evidence it, and
which page attribute it changes.

=======================  ===========================  ====================================
lever                    reason codes in excess       page condition / attribute changed
=======================  ===========================  ====================================
``add_size_guide``       too_small + too_large        sized product without a size guide
``runs_small``           too_small                    sized; kept sizes agree (larger)
``runs_large``           too_large                    sized; kept sizes agree (smaller)
``improve_photos``       looks_different              fewer photos than the category
``improve_description``  not_as_described             short or vague description
``quality_review``       poor_quality                 —
``packaging_review``     damaged                      —
``investigate_returns``  every return (any reason or  most of the product's returns give
                         none)                        no reason, and no other lever passes
=======================  ===========================  ====================================

``poor_quality`` and ``damaged`` are separate codes here even though the model groups them:
one calls for a supplier review, the other for packaging.

``investigate_returns`` is the lever of returns without a known cause: a product whose returns
are well above comparable products' while most of them carry no reason (a shop that records no
reasons, or a product whose returns come through a channel that does not ask) — look at the
product, and start capturing reasons to know what to fix.
"""

from __future__ import annotations

from returnrisk.taxonomy import NO_REASON, REASON_CODES

__all__ = [
    "INVESTIGATE",
    "ATTRIBUTE_LEVERS",
    "FIT_LEVERS",
    "LEVERS",
    "LEVER_ATTRIBUTES",
    "LEVER_GROUP",
    "LEVER_LABELS",
    "LEVER_REASONS",
    "LEVER_SHORT",
    "REASON_LEVERS",
]

LEVERS: tuple[str, ...] = (
    "add_size_guide",
    "runs_small",
    "runs_large",
    "improve_photos",
    "improve_description",
    "quality_review",
    "packaging_review",
    "investigate_returns",
)

#: The lever of returns without a known cause.
INVESTIGATE = "investigate_returns"

#: Reason codes whose excess is the evidence of each lever (summed when several).
LEVER_REASONS: dict[str, tuple[str, ...]] = {
    "add_size_guide": ("too_small", "too_large"),
    "runs_small": ("too_small",),
    "runs_large": ("too_large",),
    "improve_photos": ("looks_different",),
    "improve_description": ("not_as_described",),
    "quality_review": ("poor_quality",),
    "packaging_review": ("damaged",),
    INVESTIGATE: REASON_CODES + (NO_REASON,),   # every return, whatever its reason (or none)
}

#: Levers whose impact is estimated by re-scoring with page attributes changed.
ATTRIBUTE_LEVERS: tuple[str, ...] = ("add_size_guide", "improve_photos", "improve_description")
#: Levers about the fit of the product (evidence also from the sizes customers kept).
FIT_LEVERS: tuple[str, ...] = ("runs_small", "runs_large")
#: Levers whose impact comes from the excess rate of their reason.
REASON_LEVERS: tuple[str, ...] = ("runs_small", "runs_large", "quality_review", "packaging_review", INVESTIGATE)

#: Model features each attribute lever changes (and whose SHAP contribution is evidence).
LEVER_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "add_size_guide": ("has_size_guide",),
    "improve_photos": ("n_photos",),
    "improve_description": ("description_length", "mentions_material", "mentions_dimensions", "mentions_fit"),
    "runs_small": ("product_fit_offset",),
    "runs_large": ("product_fit_offset",),
    "quality_review": (),
    "packaging_review": (),
    INVESTIGATE: (),
}

#: The model's reason group each lever's reasons fall in (for reason-model contributions).
LEVER_GROUP: dict[str, str | None] = {
    "add_size_guide": None,  # both size groups
    "runs_small": "too_small",
    "runs_large": "too_large",
    "improve_photos": "looks_different",
    "improve_description": "not_as_described",
    "quality_review": "quality",
    "packaging_review": "quality",
    INVESTIGATE: "other",   # returns without a reason fall in the model's 'other' group
}

LEVER_LABELS: dict[str, dict[str, str]] = {
    "add_size_guide": {"en": "add a size guide", "fr": "ajouter un guide des tailles"},
    "runs_small": {"en": "runs small: advise one size up and correct the size chart",
                   "fr": "taille petit : conseiller la taille au-dessus et corriger le guide des tailles"},
    "runs_large": {"en": "runs large: advise one size down and correct the size chart",
                   "fr": "taille grand : conseiller la taille en dessous et corriger le guide des tailles"},
    "improve_photos": {"en": "improve the photos", "fr": "améliorer les photos"},
    "improve_description": {"en": "improve the description", "fr": "améliorer la description"},
    "quality_review": {"en": "review quality with the supplier", "fr": "revoir la qualité avec le fournisseur"},
    "packaging_review": {"en": "review the packaging", "fr": "revoir l'emballage"},
    INVESTIGATE: {"en": "returns well above comparable products with no known cause: look at the product, "
                        "start capturing reasons",
                  "fr": "retours bien au-dessus des produits comparables sans cause connue : examinez le produit, "
                        "commencez à recueillir les motifs"},
}

#: Short names for tables.
LEVER_SHORT: dict[str, str] = {
    "add_size_guide": "size guide", "runs_small": "runs small", "runs_large": "runs large",
    "improve_photos": "photos", "improve_description": "description", "quality_review": "quality",
    "packaging_review": "packaging", INVESTIGATE: "investigate",
}
