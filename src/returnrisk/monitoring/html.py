"""The monitoring report as one offline HTML page (inline SVG charts from
:mod:`returnrisk.charts`, the dashboard's renderer; inline CSS, no script, no CDN).

:func:`report_charts` gives the charts alone — predicted vs observed by week, by risk band and by
probability bin, feature drift, the prediction histogram — for other pages (the dashboard's model
page) to embed.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from returnrisk.charts import bar_chart, line_chart, paired_bars

__all__ = ["render_html", "report_charts", "drift_table"]

_templates = Environment(loader=PackageLoader("returnrisk.monitoring", "templates"),
                         autoescape=select_autoescape(["html"]))


def report_charts(report: dict) -> dict[str, str]:
    """Inline SVG charts of a monitoring report (its ``to_json()`` form)."""
    weeks = report.get("by_week", [])
    charts = {
        "by_week": line_chart(
            "Predicted vs observed return rate by week of order",
            [w["week"] for w in weeks],
            {"predicted": [w["predicted_matured"] for w in weeks],
             "observed": [w["observed"] for w in weeks],
             "predicted (not matured yet)": [w["predicted"] if w["matured_lines"] == 0 else None for w in weeks]},
            provisional=[w["matured_lines"] == 0 for w in weeks],
            empty="no line since the as-of date"),
        "by_band": paired_bars(
            "Observed vs predicted return rate by risk band",
            [(b["risk_band"], b["observed"], b["predicted_matured"]) for b in report.get("by_band", [])
             if b["observed"] is not None],
            ("observed", "predicted"), empty="no matured line yet"),
        "reliability": paired_bars(
            "Observed vs predicted by probability bin (matured lines)",
            [(f"{r['low']:.0%}–{r['high']:.0%} ({r['count']:,})", r["observed"], r["mean_predicted"])
             for r in report.get("reliability", [])],
            ("observed", "predicted"), empty="not enough matured lines yet"),
        "feature_drift": bar_chart(
            "Feature drift against training (PSI, largest first)",
            [(f["label"] + (" (ignored)" if f["ignored"] else ""), f["psi"])
             for f in report.get("feature_drift", [])[:12]],
            percent=False, empty="no training reference in this model"),
    }
    prediction = report.get("prediction_drift") or {}
    if prediction.get("edges"):
        edges = [0.0, *prediction["edges"], 1.0]
        labels = [f"{edges[i]:.0%}" for i in range(len(edges) - 1)]
        charts["prediction"] = line_chart(
            "Share of lines by predicted P(return): training vs since the as-of date", labels,
            {"training": prediction["reference_shares"][:len(labels)],
             "since the as-of date": prediction["current_shares"][:len(labels)]})
    return charts


def drift_table(report: dict, limit: int = 15) -> list[dict]:
    """The features that moved most, for a table: feature, label, PSI, Jensen–Shannon, level."""
    levels = {c["subject"]: c["level"] for c in report.get("checks", []) if c["metric"] == "feature_psi"}
    return [{**f, "level": levels.get(f"feature '{f['feature']}'", "ok")} for f in report.get("feature_drift", [])[:limit]]


def render_html(report: dict) -> str:
    """The whole report page from ``MonitorReport.to_json()``."""
    return _templates.get_template("report.html").render(
        r=report, charts=report_charts(report), drift=drift_table(report),
        segments=[s for s in report.get("segments", [])][:20],
    )
