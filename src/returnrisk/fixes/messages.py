"""One sentence per suggestion, in English and French, with the numbers behind it."""

from __future__ import annotations

import math

__all__ = ["message", "number", "percent"]

_NBSP = "\u00a0"

_CATEGORY_FR_PREFIX = "la catégorie"


def percent(value: float | None, lang: str) -> str:
    """``12%`` / ``12 %`` (one decimal under 10 %)."""
    if value is None or not math.isfinite(value):
        return "?"
    digits = 1 if abs(value) < 0.1 else 0
    text = f"{100 * value:.{digits}f}"
    return f"{text.replace('.', ',')}{_NBSP}%" if lang == "fr" else f"{text}%"


def number(value: float | None, lang: str, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "?"
    text = f"{value:,.{digits}f}" if abs(value) < 100 else f"{value:,.0f}"
    if lang == "fr":
        text = text.replace(",", _NBSP).replace(".", ",")
    return text


def _size_steps(value: float, lang: str) -> str:
    text = number(abs(value), lang, 1)
    if lang == "fr":
        return f"{text} taille" + ("s" if abs(value) >= 2 else "")
    return f"{text} size" + ("s" if abs(value) != 1 else "")


def direction_ok(shift: float, small: bool) -> bool:
    """Whether a kept-size shift is worth saying: at least 0.2 size, in the lever's direction."""
    return (shift >= 0.2) if small else (shift <= -0.2)


def message(lever: str, facts: dict, lang: str) -> str:
    """The sentence of ``lever`` in ``lang`` from ``facts``.

    ``facts``: ``rate``, ``reference``, ``returns``, ``sales``, ``category``, ``avoided`` (per
    month), optional ``size``, ``kept_shift`` (size steps), ``kept_lines``, ``kept_only`` (the
    fit lever rests on the kept sizes), ``photos``, ``typical_photos``,
    ``length``, ``typical_length``, ``reference_kind`` (``category``, ``guided`` or ``shop``),
    ``unknown_share`` (``investigate_returns``: the share of its returns without a reason).
    """
    fr = lang == "fr"
    rate, ref = percent(facts["rate"], lang), percent(facts["reference"], lang)
    kind = facts.get("reference_kind", "category")
    category = facts.get("category") or "?"
    if kind == "guided":
        versus = (f"contre {ref} pour les produits « {category} » avec guide des tailles" if fr
                  else f"against {ref} for {category} with a size guide")
    elif kind == "shop":
        versus = f"contre {ref} dans la boutique" if fr else f"against {ref} across the shop"
    else:
        versus = f"contre {ref} dans la catégorie « {category} »" if fr else f"against {ref} in {category}"
    counts = (f"{facts['returns']:.0f} retours sur {number(facts['sales'], lang, 0)} ventes" if fr
              else f"{facts['returns']:.0f} returns out of {number(facts['sales'], lang, 0)} sales")
    avoided = number(facts.get("avoided", 0.0), lang, 1)
    tail = (f"environ {avoided} retours de moins par mois (estimation du modèle)" if fr
            else f"about {avoided} fewer returns a month (model estimate)")
    size = facts.get("size")
    subject_fr = f"En taille {size}, " if size else ""
    subject_en = f"In size {size}, " if size else ""
    sales_of = "des ventes" if size else "des ventes de ce produit"
    of_sales = "of sales" if size else "of this product's sales"

    if lever == "add_size_guide":
        return (f"{subject_fr}{rate} {sales_of} reviennent pour une taille inadaptée, {versus} ({counts}) : "
                f"ajoutez un guide des tailles — {tail}." if fr else
                f"{subject_en}{rate} {of_sales} come back as the wrong size, {versus} ({counts}): add a size guide — "
                f"{tail}.")
    if lever in ("runs_small", "runs_large"):
        small = lever == "runs_small"
        shift = facts.get("kept_shift")
        if facts.get("kept_only") and shift is not None:
            kept_n = number(facts.get("kept_lines"), lang, 0)
            if fr:
                what = "trop petit" if small else "trop grand"
                action = ("indiquez de prendre la taille au-dessus et corrigez le guide des tailles" if small
                          else "indiquez de prendre la taille en dessous et corrigez le guide des tailles")
                return (f"Les clients qui ont gardé ce produit ont pris {_size_steps(shift, lang)} "
                        f"{'au-dessus' if shift > 0 else 'en dessous'} de leur taille habituelle ({kept_n} ventes "
                        f"gardées), et {rate} des ventes reviennent « {what} », {versus} : {action} — {tail}.")
            what = "too small" if small else "too large"
            action = ("tell customers to take one size up and correct the size chart" if small
                      else "tell customers to take one size down and correct the size chart")
            return (f"Customers who kept this product took {_size_steps(shift, lang)} "
                    f"{'larger' if shift > 0 else 'smaller'} than their usual size ({kept_n} kept sales), and "
                    f"{rate} of sales come back as {what}, {versus}: {action} — {tail}.")
        if fr:
            what = "trop petit" if small else "trop grand"
            action = ("conseillez la taille au-dessus et corrigez le guide des tailles" if small
                      else "conseillez la taille en dessous et corrigez le guide des tailles")
            kept = ""
            if shift is not None and direction_ok(shift, small):
                kept = (f", et ceux qui l'ont gardé ont pris {_size_steps(shift, lang)} "
                        f"{'au-dessus' if shift > 0 else 'en dessous'} de leur taille habituelle")
            return f"{subject_fr}{rate} {sales_of} reviennent « {what} », {versus} ({counts}){kept} : {action} — {tail}."
        what = "too small" if small else "too large"
        action = ("tell customers to take one size up and correct the size chart" if small
                  else "tell customers to take one size down and correct the size chart")
        kept = ""
        if shift is not None and direction_ok(shift, small):
            kept = (f", and customers who kept it took {_size_steps(shift, lang)} "
                    f"{'larger' if shift > 0 else 'smaller'} than usual")
        return f"{subject_en}{rate} {of_sales} come back as {what}, {versus} ({counts}){kept}: {action} — {tail}."
    if lever == "improve_photos":
        photos, typical = facts.get("photos"), facts.get("typical_photos")
        if fr:
            detail = (f", avec {number(photos, lang, 0)} photo{'s' if (photos or 0) >= 2 else ''} "
                      f"(contre {number(typical, lang, 0)} d'habitude)" if photos is not None else "")
            return (f"{rate} des ventes de ce produit reviennent car il est différent des photos, {versus} ({counts}){detail} : "
                    f"ajoutez des photos qui le montrent tel qu'il est — {tail}.")
        detail = (f", with {number(photos, lang, 0)} photo{'s' if (photos or 0) != 1 else ''} "
                  f"(the category usually has {number(typical, lang, 0)})" if photos is not None else "")
        return (f"{rate} of this product's sales come back because it looks different from the photos, {versus} "
                f"({counts}){detail}: add photos that show it as it is — {tail}.")
    if lever == "improve_description":
        length = facts.get("length")
        if fr:
            detail = f", et sa description est courte ou vague ({number(length, lang, 0)} caractères)" \
                if length is not None else ""
            return (f"{rate} des ventes de ce produit reviennent « non conforme à la description », {versus} ({counts}){detail} : "
                    f"précisez la matière, les dimensions et la coupe — {tail}.")
        detail = f", and its description is short or vague ({number(length, lang, 0)} characters)" \
            if length is not None else ""
        return (f"{rate} of this product's sales come back as not as described, {versus} ({counts}){detail}: "
                f"state the material, dimensions and fit — {tail}.")
    if lever == "quality_review":
        return (f"{rate} des ventes de ce produit reviennent pour mauvaise qualité, {versus} ({counts}) : "
                f"revoyez la qualité avec le fournisseur — {tail}." if fr else
                f"{rate} of this product's sales come back for poor quality, {versus} ({counts}): "
                f"review quality with the supplier — {tail}.")
    if lever == "packaging_review":
        return (f"{rate} des ventes de ce produit arrivent endommagées, {versus} ({counts}) : "
                f"revoyez l'emballage — {tail}." if fr else
                f"{rate} of this product's sales arrive damaged, {versus} ({counts}): review the packaging — {tail}.")
    if lever == "investigate_returns":
        share = facts.get("unknown_share")
        if fr:
            unknown = f", et {percent(share, lang)} de ses retours n'ont pas de motif" if share is not None else ""
            return (f"{rate} des ventes de ce produit reviennent, {versus} ({counts}){unknown} : examinez le produit "
                    f"(photos, description, taille, qualité) et recueillez les motifs de retour — {tail}.")
        unknown = f", and {percent(share, lang)} of its returns give no reason" if share is not None else ""
        return (f"{rate} of this product's sales come back, {versus} ({counts}){unknown}: look at the product "
                f"(photos, description, sizing, quality) and start capturing return reasons — {tail}.")
    raise ValueError(f"unknown lever {lever!r}")
