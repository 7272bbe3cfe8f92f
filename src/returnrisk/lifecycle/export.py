"""The fix list as CSV: exactly the rows and columns a view shows (dashboard ``fixes.csv``, API ``format=csv``).

Column names in the view's language; numbers plain (a dot for decimals, no grouping, so a
spreadsheet can add them), money with its currency in the next column — a product sold in
another currency than the shop's keeps its own, never converted.
"""

from __future__ import annotations

import csv
import io

from returnrisk.lifecycle.labels import lever_name, phase_label
from returnrisk.lifecycle.listing import FixRow

__all__ = ["CSV_COLUMNS", "fixes_csv", "table_record"]

#: Column id → header (en, fr), in the order of the dashboard's table.
CSV_COLUMNS: dict[str, dict[str, str]] = {
    "fix_id": {"en": "fix id", "fr": "identifiant"},
    "product_id": {"en": "product", "fr": "produit"},
    "title": {"en": "title", "fr": "titre"},
    "size": {"en": "size", "fr": "taille"},
    "lever": {"en": "fix", "fr": "correction"},
    "why": {"en": "why", "fr": "pourquoi"},
    "status": {"en": "status", "fr": "statut"},
    "returns_avoided_per_month": {"en": "returns avoided per month", "fr": "retours évités par mois"},
    "savings_per_month": {"en": "savings per month", "fr": "économies par mois"},
    "currency": {"en": "currency", "fr": "devise"},
    "evidence_sales": {"en": "sales behind the evidence", "fr": "ventes derrière le constat"},
    "evidence_returns": {"en": "returns for its reasons", "fr": "retours pour ces motifs"},
    "flagged_since": {"en": "flagged since", "fr": "signalé depuis"},
    "live_at": {"en": "live since", "fr": "en ligne depuis"},
    "effect": {"en": "measured effect", "fr": "effet mesuré"},
    "effect_returns_avoided_per_month": {"en": "returns avoided per month (measured)",
                                         "fr": "retours évités par mois (mesurés)"},
    "effect_low": {"en": "low", "fr": "bas"},
    "effect_high": {"en": "high", "fr": "haut"},
    "product_url": {"en": "product page", "fr": "page produit"},
}


def _number(value, digits: int = 2):
    return "" if value is None else round(float(value), digits)


def table_record(row: FixRow, lang: str) -> dict:
    """One row's values, by column id."""
    fix = row.fix
    evidence = fix.get("evidence") or {}
    effect = row.effect or {}
    avoided = effect.get("returns_avoided_per_month") or {}
    effect_text = ""
    if effect:
        effect_text = effect.get("verdict") or effect.get("status") or ""
    return {
        "fix_id": row.fix_id, "product_id": row.product_id, "title": row.title or "", "size": fix.get("size") or "",
        "lever": lever_name(row.lever, lang), "why": (fix.get("message") or {}).get(lang, ""),
        "status": phase_label(row.phase, lang),
        "returns_avoided_per_month": _number(fix.get("expected_returns_avoided_per_month")),
        "savings_per_month": _number(fix.get("expected_savings_per_month")), "currency": row.currency or "",
        "evidence_sales": evidence.get("sales", ""), "evidence_returns": evidence.get("returns", ""),
        "flagged_since": fix.get("flagged_since") or "", "live_at": (row.change or {}).get("live_at") or "",
        "effect": effect_text, "effect_returns_avoided_per_month": _number(avoided.get("estimate")),
        "effect_low": _number(avoided.get("low")), "effect_high": _number(avoided.get("high")),
        "product_url": row.product.url if row.product is not None and row.product.url else "",
    }


def fixes_csv(rows: list[FixRow], lang: str = "en") -> str:
    """The CSV text of ``rows`` (a header line, then one line per fix)."""
    lang = "fr" if lang == "fr" else "en"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([names[lang] for names in CSV_COLUMNS.values()])
    for row in rows:
        record = table_record(row, lang)
        writer.writerow([record[column] for column in CSV_COLUMNS])
    return out.getvalue()
