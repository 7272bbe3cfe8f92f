"""Amounts as people read them, per language (Babel): "1 234,56 €" in French, "€1,234.56" in English.

Amounts are never added across currencies: a total is one amount per currency, the shop's main
currency (``RETURNRISK_CURRENCY``) first.
"""

from __future__ import annotations

from collections.abc import Mapping

from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent

__all__ = ["LOCALES", "money", "money_totals", "number", "percent", "points"]

#: The locale of each language of the dashboard.
LOCALES: dict[str, str] = {"en": "en_GB", "fr": "fr_FR"}


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["en"])


def money(amount: float | None, currency: str, lang: str = "en", *, whole: bool = False) -> str:
    """``amount`` in ``currency`` for ``lang`` ("—" for none); ``whole``: without the cents."""
    if amount is None:
        return "—"
    pattern = None
    if whole:
        pattern = "#,##0\u00a0¤" if lang == "fr" else "¤#,##0"
    return format_currency(float(amount), currency, format=pattern, locale=_locale(lang),
                           currency_digits=not whole)


def money_totals(totals: Mapping[str, float], main: str, lang: str = "en") -> list[str]:
    """One formatted amount per currency, ``main`` first (an empty key is the main currency)."""
    merged: dict[str, float] = {}
    for currency, amount in totals.items():
        key = currency or main
        merged[key] = merged.get(key, 0.0) + float(amount)
    order = [main] + sorted(c for c in merged if c != main)
    return [money(merged[c], c, lang) for c in order if c in merged]


def number(value: float | None, lang: str = "en", digits: int = 1) -> str:
    if value is None:
        return "—"
    return format_decimal(round(float(value), digits), format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                          locale=_locale(lang))


def percent(value: float | None, lang: str = "en", digits: int = 1, *, signed: bool = False) -> str:
    """A share as a percentage ("12,5 %" in French); ``signed``: with its sign ("+1.2%", "−0.5%")."""
    if value is None:
        return "—"
    locale = Locale.parse(_locale(lang))
    pattern = locale.percent_formats[None].pattern.split(";")[0]
    if digits:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * digits, 1)
    text = format_percent(abs(float(value)) if signed else float(value), format=pattern, locale=locale)
    if signed:
        text = ("+" if value > 0 else "−" if value < 0 else "±") + text
    return text


def points(value: float | None, lang: str = "en", digits: int = 1) -> str:
    """A change of a rate in percentage points, signed: "−11.9 pts" / "−11,9 pts"."""
    if value is None:
        return "—"
    amount = format_decimal(abs(float(value)) * 100, format="#,##0." + "0" * digits, locale=_locale(lang))
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{amount}\u00a0pts" if lang == "fr" else f"{sign}{amount} pts"
