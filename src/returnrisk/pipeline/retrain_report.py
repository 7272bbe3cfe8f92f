"""The retraining report (logged on the challenger's run as ``retrain/report.html``): metrics side
by side, calibration curves of both models on the hold-out, AUC per category. Offline HTML,
inline SVG charts from :mod:`returnrisk.charts`."""

from __future__ import annotations

from html import escape

from returnrisk.charts import line_chart, paired_bars

__all__ = ["render_retrain_report"]


def _calibration_chart(reliability: dict) -> str:
    labels = [f"{k / 10:.0%}–{(k + 1) / 10:.0%}" for k in range(10)]
    series = {}
    for who in ("challenger", "champion"):
        rows = {r["bin"]: r for r in reliability.get(who, [])}
        if rows:
            series[f"{who}: observed"] = [rows[k]["observed"] if k in rows else None for k in range(10)]
    series["perfect calibration"] = [(k + 0.5) / 10 for k in range(10)]
    return line_chart("Observed return rate by predicted-probability bin (hold-out)", labels, series)


def render_retrain_report(report: dict) -> str:
    metrics = report.get("metrics", {})
    keys = ("auc", "log_loss", "brier", "ece")
    rows = "".join(
        f"<tr><td>{k}</td>" + "".join(
            f"<td class='num'>{metrics[w][k]:.4f}</td>" if metrics.get(w, {}).get(k) is not None else "<td>—</td>"
            for w in ("challenger", "champion")) + "</tr>"
        for k in keys)
    per_category = paired_bars(
        "AUC per category on the hold-out", [(c["category"], c["challenger_auc"] or 0.0, c["champion_auc"] or 0.0)
                                              for c in report.get("per_category", [])],
        ("challenger", "champion"), empty="no category with enough hold-out lines")
    holdout = report.get("holdout", {})
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Retraining · challenger v{escape(str(report.get('challenger_version')))}</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;color:#1d2433;max-width:1000px;margin:0 auto;padding:18px}}
table{{border-collapse:collapse;width:100%}}td,th{{padding:6px 8px;border-bottom:1px solid #e5e7eb;text-align:left}}
td.num{{text-align:right}}svg.chart{{width:100%;height:auto}}.decision{{padding:10px 12px;border-left:5px solid
{'#059669' if report.get('promoted') else '#d97706'};background:#f6f7f9}}</style></head><body>
<h1>Challenger v{escape(str(report.get('challenger_version')))} vs champion
v{escape(str(report.get('champion_version')))}</h1>
<p class="decision" id="decision">{escape(str(report.get('decision')))}</p>
<p>Hold-out: lines ordered {escape(str(holdout.get('start', ''))[:10])} → {escape(str(holdout.get('end', ''))[:10])}
({holdout.get('compared_rows', 0):,} compared of {holdout.get('holdout_rows', 0):,}); the challenger was trained as of
{escape(str(report.get('challenger_as_of', ''))[:10])}, before them.</p>
<table><thead><tr><th>metric</th><th>challenger</th><th>champion</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Calibration</h2>{_calibration_chart(report.get('reliability', {}))}
<h2>Per category</h2>{per_category}
</body></html>"""
