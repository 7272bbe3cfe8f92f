"""Writing a :class:`~returnrisk.fixes.engine.FixReport`: JSON, CSV or a self-contained HTML page.

* ``.json`` — the list of suggestions (sorted by expected savings), each with its evidence and
  its message in English and French;
* ``.csv`` — one row per suggestion: the headline fields, the key evidence, both messages;
* ``.html`` — for a person: the ranked table, then per product its suggestions, a chart of its
  reason rates against its category and a chart of its model drivers. Everything is inline
  (CSS and SVG, no script, no font, no CDN): the file opens offline.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from returnrisk.fixes.engine import FIX_FIELDS, FixReport
from returnrisk.fixes.levers import LEVER_LABELS, LEVER_SHORT
from returnrisk.fixes.messages import percent

__all__ = ["FORMATS", "to_frame", "to_html", "to_json", "write_report"]

FORMATS = (".json", ".csv", ".html")


def to_json(report: FixReport, fixes: list[dict] | None = None) -> str:
    return json.dumps(report.fixes if fixes is None else fixes, ensure_ascii=False, indent=2)


def to_frame(report: FixReport) -> pd.DataFrame:
    """One row per suggestion (the CSV)."""
    rows = []
    for fix in report.fixes:
        ev = fix["evidence"]
        row = {name: fix[name] for name in FIX_FIELDS}
        row.update({
            "returns": ev["returns"], "rate": ev["rate"], "reference_rate": ev["reference_rate"],
            "excess_rate": ev["excess_rate"], "ci_low": ev["credible_interval"][0],
            "ci_high": ev["credible_interval"][1], "p_worse": ev["p_worse"],
            "returns_avoided_per_sale": ev["impact"].get("returns_avoided_per_sale"),
            "impact_method": ev["impact"].get("method"),
            "message_en": fix["message"]["en"], "message_fr": fix["message"]["fr"],
        })
        rows.append(row)
    columns = list(FIX_FIELDS) + ["returns", "rate", "reference_rate", "excess_rate", "ci_low", "ci_high", "p_worse",
                                  "returns_avoided_per_sale", "impact_method", "message_en", "message_fr"]
    return pd.DataFrame(rows, columns=columns)


def write_report(report: FixReport, path: str | Path) -> Path:
    """Write ``report`` to ``path`` in the format its suffix names, via a temporary file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path.name}: the output must end in {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        if suffix == ".json":
            Path(tmp).write_text(to_json(report), encoding="utf-8")
        elif suffix == ".csv":
            to_frame(report).to_csv(tmp, index=False)
        else:
            Path(tmp).write_text(to_html(report), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ---- HTML ---------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:#1f2933;background:#f7f8fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.2rem;margin:32px 0 8px}h3{font-size:1.05rem;margin:0 0 6px}
.meta{color:#52606d;font-size:.9rem}
.note{background:#fff8e1;border-left:4px solid #f0b429;padding:10px 14px;margin:16px 0;font-size:.92rem}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:1.35rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.86rem}
th,td{border-bottom:1px solid #e4e7eb;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7;position:sticky;top:0}td.n{text-align:right;white-space:nowrap}
.lever{display:inline-block;border-radius:10px;padding:1px 8px;font-size:.78rem;background:#e0e8f9;color:#1d3f72}
section.product{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:14px 16px;margin:14px 0}
.charts{display:flex;gap:18px;flex-wrap:wrap;margin-top:10px}
.charts figure{margin:0;max-width:460px}figcaption{font-size:.8rem;color:#52606d;margin-bottom:4px}
ul.fixes{margin:6px 0;padding-left:18px}ul.fixes li{margin:4px 0}
.fr{color:#52606d;font-size:.85rem}
a{color:#1d4ed8}
"""

_LEVER_COLOURS = {
    "add_size_guide": "#2563eb", "runs_small": "#7c3aed", "runs_large": "#9333ea", "improve_photos": "#0891b2",
    "improve_description": "#0d9488", "quality_review": "#dc2626", "packaging_review": "#ea580c",
}


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _anchor(product_id: str) -> str:
    return "p-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in product_id)


def reasons_svg(profile: dict, width: int = 430) -> str:
    """Horizontal bars: the product's rate of each reason (with returns) against its category's."""
    reasons = [r for r in profile["reasons"] if (r["returns"] or 0) > 0 or (r["category_rate"] or 0) > 0.004]
    if not reasons:
        return ""
    top = max(max(r["rate"] or 0, r["category_rate"] or 0) for r in reasons) or 1.0
    label_w, row_h = 175, 22
    bar_w = width - label_w - 95          # room on the right for the "26% vs 9.0%" text
    height = 26 + row_h * len(reasons)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
              f'aria-label="reason rates of {_e(profile["product_id"])} against its category">')]
    parts.append(f'<rect x="{label_w}" y="4" width="10" height="8" fill="#dc2626"/>'
                 f'<text x="{label_w + 14}" y="12" font-size="10">this product</text>'
                 f'<rect x="{label_w + 90}" y="4" width="10" height="8" fill="#9aa5b1"/>'
                 f'<text x="{label_w + 104}" y="12" font-size="10">category</text>')
    for i, r in enumerate(reasons):
        y = 22 + i * row_h
        rate, ref = r["rate"] or 0.0, r["category_rate"] or 0.0
        w_rate, w_ref = bar_w * rate / top, bar_w * ref / top
        worse = (r["p_worse"] or 0) >= 0.95
        colour = "#dc2626" if worse else "#f59e0b" if rate > ref else "#60a5fa"
        label = r["label"]["en"]
        label = label if len(label) <= 26 else label[:25] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" font-size="11" text-anchor="end">'
                     f'{_e(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 1}" width="{w_rate:.1f}" height="8" fill="{colour}">'
                     f'<title>{_e(r["label"]["en"])}: {percent(rate, "en")} ({r["returns"]} returns), category '
                     f'{percent(ref, "en")}, P(worse) {r["p_worse"]}</title></rect>')
        parts.append(f'<rect x="{label_w}" y="{y + 10}" width="{w_ref:.1f}" height="6" fill="#9aa5b1"/>')
        parts.append(f'<text x="{label_w + max(w_rate, w_ref) + 4:.1f}" y="{y + 12}" font-size="10" fill="#52606d">'
                     f'{percent(rate, "en")} vs {percent(ref, "en")}</text>')
    parts.append("</svg>")
    return "".join(parts)


def drivers_svg(profile: dict, width: int = 430) -> str:
    """Diverging bars: the model's mean SHAP contributions for the product's recent sales."""
    drivers = profile.get("drivers") or []
    if not drivers:
        return ""
    top = max(abs(d["contribution"]) for d in drivers) or 1.0
    label_w, row_h = 190, 22
    half = (width - label_w - 50) / 2     # room for the value text either side
    mid = label_w + half
    height = 12 + row_h * len(drivers)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
              f'aria-label="model drivers of {_e(profile["product_id"])}">'),
             f'<line x1="{mid}" y1="0" x2="{mid}" y2="{height}" stroke="#9aa5b1"/>']
    for i, d in enumerate(drivers):
        y = 6 + i * row_h
        value = d["contribution"]
        w = half * abs(value) / top
        x = mid if value >= 0 else mid - w
        colour = "#dc2626" if value > 0 else "#16a34a"
        label = d["label"]["en"]
        label = label if len(label) <= 30 else label[:29] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 11}" font-size="11" text-anchor="end">{_e(label)}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{max(w, 0.5):.1f}" height="11" fill="{colour}">'
                     f'<title>{_e(d["label"]["en"])}: {value:+.3f} log-odds</title></rect>')
        text_x, anchor = (mid + w + 3, "start") if value >= 0 else (mid - w - 3, "end")
        parts.append(f'<text x="{text_x:.1f}" y="{y + 11}" font-size="10" fill="#52606d" '
                     f'text-anchor="{anchor}">{value:+.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: FixReport, max_products: int | None = None) -> str:
    """The report as one self-contained HTML page (see the module docstring)."""
    summary = report.summary()
    fixes = report.fixes
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>returnrisk — fix suggestions as of {report.as_of:%Y-%m-%d}</title>",
           f"<style>{_CSS}</style></head><body><main>",
           "<h1>Fix suggestions</h1>",
           (f'<div class="meta">Shop history up to {report.as_of:%Y-%m-%d %H:%M} UTC · model '
            f'{_e(report.model.get("version") or "?")} · generated {report.generated_at:%Y-%m-%d %H:%M} UTC · '
            f'flag threshold {report.params.flag_threshold:.2f}</div>'),
           (f'<div class="note"><b>Model estimates, not measured effects.</b> {_e(report.note["en"])}'
            f'<br><span class="fr">{_e(report.note["fr"])}</span></div>'),
           '<div class="cards">',
           f'<div class="card">suggestions<b>{summary["suggestions"]:,}</b></div>',
           (f'<div class="card">products to fix<b>{summary["products_flagged"]:,}</b>'
            f'of {summary["products_analysed"]:,} analysed</div>'),
           f'<div class="card">returns avoided / month<b>{summary["returns_avoided_per_month"]:,.1f}</b></div>',
           f'<div class="card">savings / month<b>{_money(summary["savings_per_month"])}</b></div>',
           "</div>",
           "<h2>Ranked by expected savings</h2>",
           ("<table><thead><tr><th>#</th><th>product</th><th>size</th><th>category</th><th>brand</th>"
            "<th>lever</th><th>returns avoided / month</th><th>savings / month</th><th>confidence</th>"
            "<th>flagged since</th><th>why</th></tr></thead><tbody>")]
    for fix in fixes:
        colour = _LEVER_COLOURS.get(fix["lever"], "#1d3f72")
        out.append(
            f'<tr><td class="n">{fix["priority_rank"]}</td>'
            f'<td><a href="#{_anchor(fix["product_id"])}">{_e(fix["product_id"])}</a></td>'
            f'<td>{_e(fix["size"] or "")}</td><td>{_e(fix["category"])}</td><td>{_e(fix["brand"] or "")}</td>'
            f'<td><span class="lever" style="color:{colour}" title="{_e(LEVER_LABELS[fix["lever"]]["en"])}">'
            f'{_e(LEVER_SHORT[fix["lever"]])}</span></td>'
            f'<td class="n">{fix["expected_returns_avoided_per_month"]:.2f}</td>'
            f'<td class="n">{_money(fix["expected_savings_per_month"])}</td>'
            f'<td class="n">{fix["confidence"]:.3f}</td><td>{_e(fix["flagged_since"] or "")}</td>'
            f'<td>{_e(fix["message"]["en"])}</td></tr>')
    out.append("</tbody></table>")
    order: list[str] = []
    for fix in fixes:
        if fix["product_id"] not in order:
            order.append(fix["product_id"])
    if max_products is not None:
        order = order[:max_products]
    out.append("<h2>Products</h2>")
    for pid in order:
        profile = report.profiles.get(pid)
        if profile is None:
            continue
        items = [f for f in fixes if f["product_id"] == pid]
        out.append(f'<section class="product" id="{_anchor(pid)}"><h3>{_e(pid)} · {_e(profile["category"])}'
                   f'{" · " + _e(profile["brand"]) if profile.get("brand") else ""}</h3>'
                   f'<div class="meta">{profile["sales"]:,} sales · {profile["returns"]:,} returns · '
                   f'{profile["sales_per_month"] or 0:,.1f} sales / month · savings '
                   f'{_money(profile["savings_per_month"])} / month</div><ul class="fixes">')
        for fix in items:
            size = f' (size {_e(fix["size"])})' if fix["size"] else ""
            out.append(f'<li><span class="lever">{_e(LEVER_LABELS[fix["lever"]]["en"])}{size}</span> '
                       f'{_e(fix["message"]["en"])}<br><span class="fr">{_e(fix["message"]["fr"])}</span></li>')
        out.append('</ul><div class="charts">')
        chart = reasons_svg(profile)
        if chart:
            out.append(f"<figure><figcaption>Return reasons: share of sales, this product against its "
                       f"category (red: worse with P ≥ 0.95)</figcaption>{chart}</figure>")
        chart = drivers_svg(profile)
        if chart:
            out.append(f"<figure><figcaption>What drives its return risk in the model (mean SHAP, log-odds; "
                       f"red raises, green lowers)</figcaption>{chart}</figure>")
        out.append("</div></section>")
    out.append("</main></body></html>")
    return "\n".join(out)
