"""Alerts: a product newly flagged, a done fix's problem back (recurrence), a fix that changed nothing.

:func:`detect_alerts` looks at the fix list (:func:`returnrisk.lifecycle.listing.build_rows`)
and the report's weekly evidence, and returns every alert that holds now. An alert's id is
derived from what it is about (kind, product or fix, the date that makes it new), so detecting it
again — the next run, or after a restart — finds the same alert: it is stored and delivered
once per destination (:mod:`returnrisk.lifecycle.outbox`), and a repeated delivery carries the
same id.

* ``newly_flagged`` — a product whose first flag (``flagged_since``, the earliest of its open
  suggestions) is at most ``new_flag_days`` before the end of the data, and whose suggestions
  would save more than ``min_savings`` a month; one alert per product.
* ``recurrence`` — a done fix whose product shows the lever's excess again on the sales since
  its live date (:mod:`returnrisk.lifecycle.recurrence`).
* ``no_effect`` — a done fix whose effect is measured (an informative interval) and did not
  reduce the rate of its reasons (verdict ``no_clear_change`` or ``increased``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from returnrisk.lifecycle.labels import lever_name
from returnrisk.lifecycle.listing import FixRow
from returnrisk.lifecycle.money import money, percent, points
from returnrisk.lifecycle.recurrence import recurrence

__all__ = ["ALERT_KINDS", "Alert", "alert_id", "detect_alerts"]

ALERT_KINDS: tuple[str, ...] = ("newly_flagged", "recurrence", "no_effect")
_ID_VERSION = "returnrisk-alert-v1"


def alert_id(kind: str, *parts: object) -> str:
    """The id of an alert: 24 hex digits of the SHA-256 of its kind and what it is about."""
    key = "\x1f".join([_ID_VERSION, kind, *("" if p is None else str(p) for p in parts)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class Alert:
    alert_id: str
    kind: str
    product_id: str | None
    fix_id: str | None
    texts: dict[str, str]              # {"en": …, "fr": …}
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self, created_at: pd.Timestamp, lang: str = "en", dashboard_url: str | None = None) -> dict:
        """The JSON body sent to webhooks: ``text`` is what chat tools display."""
        text = self.texts.get(lang) or self.texts["en"]
        link = None
        if dashboard_url and self.product_id:
            link = f"{dashboard_url.rstrip('/')}/dashboard/products/{self.product_id}"
            text = f"{text} {link}"
        return {"id": self.alert_id, "kind": self.kind, "text": text, "texts": self.texts,
                "created_at": created_at.isoformat(), "product_id": self.product_id, "fix_id": self.fix_id,
                "dashboard_url": link, "details": self.details}


def _name(row: FixRow) -> str:
    return f"{row.title} ({row.product_id})" if row.title else row.product_id


def _newly_flagged(rows: list[FixRow], as_of: pd.Timestamp, days: int, min_savings: float) -> list[Alert]:
    since = (as_of - pd.Timedelta(days=days)).strftime("%Y-%m-%d")
    by_product: dict[str, list[FixRow]] = {}
    for row in rows:
        if row.suggested and row.status in ("open", "in_progress") and row.fix.get("flagged_since"):
            by_product.setdefault(row.product_id, []).append(row)
    alerts = []
    for product_id, group in by_product.items():
        first = min(r.fix["flagged_since"] for r in group)
        if first < since:
            continue
        savings = sum(float(r.fix.get("expected_savings_per_month") or 0) for r in group)
        if savings <= min_savings:
            continue
        currency = group[0].currency or "EUR"
        levers = {lang: ", ".join(lever_name(r.lever, lang) for r in group) for lang in ("en", "fr")}
        message = group[0].fix.get("message") or {}
        texts = {
            "en": f"Newly flagged: {_name(group[0])} — {levers['en']}. {message.get('en', '')} "
                  f"Expected savings {money(savings, currency, 'en')} a month (model estimate).",
            "fr": f"Nouveau signalement : {_name(group[0])} — {levers['fr']}. {message.get('fr', '')} "
                  f"Économies attendues {money(savings, currency, 'fr')} par mois (estimation du modèle).",
        }
        alerts.append(Alert(alert_id("newly_flagged", product_id, first), "newly_flagged", product_id, None,
                            {k: " ".join(v.split()) for k, v in texts.items()},
                            {"flagged_since": first, "fix_ids": [r.fix_id for r in group],
                             "levers": [r.lever for r in group], "expected_savings_per_month": round(savings, 2),
                             "currency": currency}))
    return alerts


def _recurrence(row: FixRow, detection) -> Alert | None:
    live_at = (row.change or {}).get("live_at")
    if not live_at:
        return None
    check = recurrence(detection, row.fix_id, row.product_id, row.lever, live_at)
    if check is None or not check.recurred:
        return None
    who = (row.change or {}).get("changed_by", "?")
    texts = {
        "en": f"Problem back: {_name(row)} — {lever_name(row.lever, 'en')}, done since {live_at} (by {who}): "
              f"{percent(check.rate, 'en')} of its sales since then came back for its reasons, against "
              f"{percent(check.reference_rate, 'en')} for its reference (P(worse) = {check.p_worse:.2f}).",
        "fr": f"Problème revenu : {_name(row)} — {lever_name(row.lever, 'fr')}, fait depuis le {live_at} (par {who}) : "
              f"{percent(check.rate, 'fr')} de ses ventes depuis sont revenues pour ces motifs, contre "
              f"{percent(check.reference_rate, 'fr')} pour sa référence (P(pire) = {check.p_worse:.2f}).",
    }
    return Alert(alert_id("recurrence", row.fix_id, live_at), "recurrence", row.product_id, row.fix_id, texts,
                 {"live_at": live_at, "lever": row.lever, **check.to_dict()})


def _no_effect(row: FixRow) -> Alert | None:
    effect = row.effect or {}
    if effect.get("status") != "measured" or effect.get("verdict") not in ("no_clear_change", "increased"):
        return None
    live_at = effect.get("live_at")
    change, low, high = effect.get("effect"), effect.get("low"), effect.get("high")
    word = {"en": "did not reduce", "fr": "n'a pas réduit"}
    texts = {
        "en": f"No measurable effect: {_name(row)} — {lever_name(row.lever, 'en')}, live since {live_at}, "
              f"{word['en']} the rate of its reasons: {points(change, 'en')} "
              f"({points(low, 'en')} to {points(high, 'en')}) against comparable "
              f"products, over {effect.get('sales_after')} sales.",
        "fr": f"Pas d’effet mesurable : {_name(row)} — {lever_name(row.lever, 'fr')}, en ligne depuis le {live_at}, "
              f"{word['fr']} le taux de ses motifs : {points(change, 'fr')} "
              f"({points(low, 'fr')} à {points(high, 'fr')}) face aux produits "
              f"comparables, sur {effect.get('sales_after')} ventes.",
    }
    return Alert(alert_id("no_effect", row.fix_id, live_at), "no_effect", row.product_id, row.fix_id, texts,
                 {"live_at": live_at, "lever": row.lever, "verdict": effect.get("verdict"), "effect": change,
                  "low": low, "high": high, "level": effect.get("level"), "sales_after": effect.get("sales_after")})


def detect_alerts(rows: list[FixRow], detection, *, as_of: pd.Timestamp, new_flag_days: int,
                  min_savings: float = 0.0) -> list[Alert]:
    """Every alert that holds now (see the module docstring); the same ids every time they hold."""
    alerts = _newly_flagged(rows, as_of, new_flag_days, min_savings)
    for row in rows:
        if row.status != "done":
            continue
        for alert in (_recurrence(row, detection), _no_effect(row)):
            if alert is not None:
                alerts.append(alert)
    return alerts
