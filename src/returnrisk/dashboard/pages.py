"""What each dashboard page shows: the figures, assembled from the API's own computations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk import charts
from returnrisk.features.history import STATE_COLUMNS
from returnrisk.scoring.size_advice import size_advice
from returnrisk.taxonomy import GROUP_LABELS, REASON_LABELS, RETURN_GROUPS

__all__ = ["overview_page", "product_page", "model_page"]

_S = {name: i for i, name in enumerate(STATE_COLUMNS)}


@dataclass
class Card:
    label: str
    value: str
    delta: str = ""
    delta_class: str = "muted"
    note: str = ""


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _delta(now, before, *, lower_is_better: bool, percent: bool, t) -> tuple[str, str]:
    if now is None or before is None:
        return "", "muted"
    diff = now - before
    better = diff < 0 if lower_is_better else diff > 0
    text = f"{diff * 100:+.1f} pt" if percent else f"{diff:+.1f}"
    return f"{t('vs')} {(_pct(before) if percent else f'{before:.1f}')} ({text})", \
        ("good" if better else "bad") if abs(diff) > 1e-9 else "muted"


def overview_page(kpis, forecast, t, lang: str, refund_days: float) -> dict:
    """``kpis(start, end, by)`` and ``forecast(days)`` give the API's payloads."""
    weekly = kpis(None, None, "week")
    end = pd.Timestamp(weekly["data_end"])
    last = kpis((end - pd.Timedelta(days=28)).isoformat(), end.isoformat(), None)["overall"]
    before = kpis((end - pd.Timedelta(days=56)).isoformat(), (end - pd.Timedelta(days=28)).isoformat(), None)["overall"]

    def rate(overall: dict, key: str):
        # a provisional period shows its expected final rate, never the falsely low rate so far
        if overall.get("provisional") and overall.get(f"expected_final_rate_{key}") is not None:
            return overall[f"expected_final_rate_{key}"]
        return overall.get(f"return_rate_{key}")

    cards = []
    for key, label in (("units", t("return_rate_units")), ("value", t("return_rate_value"))):
        now_v, before_v = rate(last, key), rate(before, key)
        delta, cls = _delta(now_v, before_v, lower_is_better=True, percent=True, t=t)
        note = (f"{t('expected_final')} · {t('observed')} {_pct(last.get(f'return_rate_{key}'))}"
                if last.get("provisional") else "")
        cards.append(Card(label, _pct(now_v), delta, cls, note))
    delta, cls = _delta(last.get("refund_within_target"), before.get("refund_within_target"),
                        lower_is_better=False, percent=True, t=t)
    cards.append(Card(t("refunds_within", days=refund_days), _pct(last.get("refund_within_target")), delta, cls))
    for key, label in (("days_to_return", t("median_days_to_return")), ("days_to_refund", t("median_days_to_refund"))):
        now_v, before_v = last.get(key, {}).get("median"), before.get(key, {}).get("median")
        delta, cls = _delta(now_v, before_v, lower_is_better=True, percent=False, t=t)
        cards.append(Card(label, "—" if now_v is None else f"{now_v:.1f}", delta, cls))
    cost_now, cost_before = last.get("return_cost"), before.get("return_cost")
    cards.append(Card(t("return_costs"), "—" if cost_now is None else f"{cost_now:,.0f}",
                      "" if cost_before is None else f"{t('vs')} {cost_before:,.0f}",
                      "muted" if last.get("provisional") else
                      "good" if (cost_now or 0) < (cost_before or 0) else "bad",
                      t("so_far") if last.get("provisional") else ""))

    groups = weekly["groups"][-26:]
    labels = [g.get("week_start", g["key"])[5:] for g in groups]
    trend = charts.line_chart(
        t("weekly_trend"), labels, {t("observed"): [g.get("return_rate_units") for g in groups]},
        provisional=[bool(g.get("provisional")) for g in groups],
        expected=[g.get("expected_final_rate_units") if g.get("provisional") else None for g in groups],
    )
    mix = sorted(weekly["overall"].get("reason_mix", {}).items(), key=lambda kv: -kv[1])
    mix_chart = charts.bar_chart(t("reason_mix"), [(REASON_LABELS.get(code, {}).get(lang, code), share)
                                                   for code, share in mix])
    fc = forecast(14)
    days = fc["days"]
    hours = {h["date"]: h for h in fc["staff_hours"]}
    band = charts.band_chart(t("forecast"), [d["date"][5:] for d in days], [d["expected"] for d in days],
                             [d["low"] for d in days], [d["high"] for d in days])
    rows = [{"date": d["date"], "expected": d["expected"], "low": d["low"], "high": d["high"],
             "hours": hours.get(d["date"], {}).get("hours")} for d in days]
    return {"cards": cards, "trend": trend, "mix": mix_chart, "forecast_chart": band, "forecast_rows": rows,
            "forecast_total": fc["total"], "staff_total": round(sum(r["hours"] or 0 for r in rows), 1),
            "data_end": end}


def _rate(row: np.ndarray, column: str) -> float:
    exposure = row[_S["exposure"]]
    return float(row[_S[column]] / exposure) if exposure > 0 else 0.0


def product_page(model, product_id: str, report, t, lang: str) -> dict:
    scorer = model.scorer
    snapshot = scorer.snapshot
    if not scorer.has_product(product_id):
        raise KeyError(product_id)
    attrs = snapshot.products.loc[product_id]
    states = snapshot.states
    prod = states["product"].loc[product_id].to_numpy() if product_id in states["product"].index \
        else np.zeros(len(STATE_COLUMNS))
    category = attrs["category"]
    cat = states["category"].loc[category].to_numpy() if category in states["category"].index \
        else np.zeros(len(STATE_COLUMNS))
    reasons = charts.paired_bars(
        t("reasons_vs_category"),
        [(GROUP_LABELS[g][lang], _rate(prod, f"r_{g}"), _rate(cat, f"r_{g}")) for g in RETURN_GROUPS],
        (t("this_product"), t("its_category")),
    )
    sizes = scorer.offered_sizes(product_id)
    small, large = [], []
    for size in sizes:
        key = f"{product_id}\x1f{size}"
        row = states["product_size"].loc[key].to_numpy() if key in states["product_size"].index \
            else np.zeros(len(STATE_COLUMNS))
        small.append(_rate(row, "r_too_small"))
        large.append(_rate(row, "r_too_large"))
    per_size = charts.stacked_size_bars(t("per_size"), sizes, small, large, (t("too_small"), t("too_large")),
                                        empty="—")
    typical = sizes[len(sizes) // 2] if sizes else None
    body = scorer.explain_rows(scorer.pairs.X[[scorer.pairs.index[(product_id, typical or "")]]], [product_id],
                               [lang], product_page=True)[0]
    drivers = charts.drivers_chart(t("drivers"), body["drivers"])
    advice = size_advice(scorer, product_id, None, lang) if sizes else None
    fixes = report.for_product(product_id) if report is not None else []
    return {
        "product_id": product_id, "attrs": attrs, "category": category, "brand": attrs.get("brand"),
        "sales": int(prod[_S["n"]]), "rate": _rate(prod, "r_total"), "category_rate": _rate(cat, "r_total"),
        "p_return": body["p_return"], "risk_band": body["risk_band"], "typical_size": typical,
        "reasons_chart": reasons, "sizes_chart": per_size, "drivers_chart": drivers, "advice": advice,
        "message": body["message"], "fixes": fixes,
    }


def model_page(info: dict, versions: list[dict], t, lang: str) -> dict:
    """``info`` describes the served model (``LoadedModel.describe()``); ``versions`` the registry's."""
    previous = None
    current = info.get("version")
    older = [v for v in versions if v["version"] != current and current and v["version"].isdigit()
             and current.isdigit() and int(v["version"]) < int(current)]
    if older:
        previous = max(older, key=lambda v: int(v["version"]))
    labels = {"val_auc": "AUC", "val_log_loss": "log-loss", "val_brier": "Brier", "val_ece": "ECE",
              "val_auc_too_small": "AUC too small", "val_auc_too_large": "AUC too large",
              "val_auc_cold_start": "AUC cold start", "baseline_product_rate_auc": "AUC product-rate baseline",
              "ceiling_auc": "AUC ceiling (demo truth)", "val_rows": "validation lines"}
    lower_better = {"val_log_loss", "val_brier", "val_ece"}
    rows = []
    for key, label in labels.items():
        value = info["metrics"].get(key)
        if value is None:
            continue
        old = (previous or {}).get("metrics", {}).get(key)
        delta, cls = "", "muted"
        if old is not None and key != "val_rows":
            diff = value - old
            delta = f"{diff:+.4f}"
            cls = "good" if (diff < 0) == (key in lower_better) and abs(diff) > 1e-9 else "bad" if abs(diff) > 1e-9 else "muted"
        fmt = (lambda v: f"{v:,.0f}") if key == "val_rows" else (lambda v: f"{v:.4f}")
        rows.append({"label": label, "value": fmt(value), "previous": "—" if old is None else fmt(old),
                     "delta": delta, "delta_class": cls})
    aucs = [(GROUP_LABELS[g][lang], info["metrics"].get(f"val_auc_{g}")) for g in RETURN_GROUPS]
    chart = charts.bar_chart("AUC", [(name, v) for name, v in aucs if v is not None], percent=False)
    return {"info": info, "metrics": rows, "previous": previous, "auc_chart": chart}
