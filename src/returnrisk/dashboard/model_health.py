"""The model page's monitoring panel: is the served model still right?

From the last monitoring report of the served model (``returnrisk monitor``, read from its MLflow
run by the service): the verdict and the thresholds crossed, predicted vs observed return rate by
week of order since the as-of date (weeks whose lines have not all matured are shaded), and the
drift table (features that moved most against training). Charts come from :mod:`returnrisk.charts`.
"""

from __future__ import annotations

from returnrisk import charts
from returnrisk.monitoring.html import drift_table

__all__ = ["monitoring_panel"]

_VERDICT_CLASS = {"healthy": "good", "degraded": "bad", "retrain_recommended": "bad"}   # base.html's classes


def _num(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def monitoring_panel(report: dict | None, t, lang: str) -> dict:
    """Template context of the panel (``available`` False when the model was never monitored)."""
    if not report:
        return {"available": False}
    weeks = report.get("by_week") or []
    observed = [w.get("observed") for w in weeks]
    predicted = [w.get("predicted_matured") if w.get("observed") is not None else w.get("predicted") for w in weeks]
    chart = charts.line_chart(
        t("predicted_vs_observed"), [w["week"] for w in weeks],
        {t("predicted"): predicted, t("observed"): observed},
        provisional=[w.get("matured_lines", 0) < w.get("lines", 0) for w in weeks], empty=t("no_data"))
    drift = [{"feature": row["feature"], "label": row["label"], "psi": _num(row["psi"], 3), "js": _num(row["js"], 3),
              "lines": f"{row.get('rows', 0):,}" if row.get("rows") is not None else "—",
              "status": t("drift_ignored") if row.get("ignored") else t(f"level_{row['level']}"),
              "status_class": "muted" if row.get("ignored") else _VERDICT_CLASS.get(
                  {"ok": "healthy"}.get(row["level"], row["level"]), "muted")}
             for row in drift_table(report, limit=12)]
    perf, period = report.get("performance") or {}, report.get("period") or {}
    verdict = report.get("verdict", "healthy")
    return {
        "available": True,
        "verdict": verdict,
        "verdict_label": t(f"verdict_{verdict}"),
        "verdict_class": _VERDICT_CLASS.get(verdict, "muted"),
        "reasons": (report.get("reasons") or [])[:6],
        "generated_at": (report.get("generated_at") or "")[:16].replace("T", " "),
        "as_of": (period.get("as_of") or "")[:10],
        "lines": f"{period.get('lines', 0):,}",
        "matured_lines": f"{period.get('matured_lines', 0):,}",
        "auc": _num(perf.get("auc")), "validation_auc": _num(perf.get("validation_auc")),
        "ece": _num(perf.get("ece")), "ece_chance": _num(perf.get("ece_chance")),
        "prediction_psi": _num((report.get("prediction_drift") or {}).get("psi"), 3),
        "chart": chart,
        "drift": drift,
        "notes": report.get("notes") or [],
    }
