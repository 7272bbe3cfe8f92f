"""Writing a :class:`~returnrisk.fixes.engine.FixReport`: JSON, CSV or a self-contained HTML page.

* ``.json`` — the list of suggestions (sorted by expected savings), each with its evidence and
  its message in English and French (:meth:`~returnrisk.fixes.suggestion.FixSuggestion.to_dict`);
* ``.csv`` — one row per suggestion: the headline fields, the key evidence, both messages;
* ``.html`` — for a person: the ranked table, then per product its suggestions, a chart of its
  reason rates against its category and a chart of its model drivers. The page is the template
  ``fixes/templates/report.html``; the charts are the dashboard's
  (:mod:`returnrisk.charts`). Everything is inline (CSS and SVG, no script, no font,
  no CDN): the file opens offline.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from returnrisk import charts
from returnrisk.fixes.engine import FixReport
from returnrisk.fixes.levers import LEVER_SHORT
from returnrisk.fixes.suggestion import FIX_FIELDS

__all__ = ["FORMATS", "drivers_chart", "reasons_chart", "to_frame", "to_html", "to_json", "write_report"]

FORMATS = (".json", ".csv", ".html")

_LEVER_COLOURS = {
    "add_size_guide": "#2563eb", "runs_small": "#7c3aed", "runs_large": "#9333ea", "improve_photos": "#0891b2",
    "improve_description": "#0d9488", "quality_review": "#dc2626", "packaging_review": "#ea580c",
    "investigate_returns": "#475569",
}


def to_json(report: FixReport, fixes: list[dict] | None = None) -> str:
    return json.dumps(report.fixes if fixes is None else fixes, ensure_ascii=False, indent=2)


def to_frame(report: FixReport) -> pd.DataFrame:
    """One row per suggestion (the CSV)."""
    rows = []
    for fix in report.suggestions:
        ev = fix.evidence
        row = {name: getattr(fix, name) for name in FIX_FIELDS}
        row.update({
            "returns": ev.returns, "rate": ev.rate, "reference_rate": ev.reference_rate,
            "excess_rate": ev.excess_rate, "ci_low": ev.credible_interval[0], "ci_high": ev.credible_interval[1],
            "p_worse": ev.p_worse, "returns_avoided_per_sale": ev.impact.returns_avoided_per_sale,
            "impact_method": ev.impact.method, "message_en": fix.message["en"], "message_fr": fix.message["fr"],
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
def _anchor(product_id: str) -> str:
    return "p-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in product_id)


_PAGES = Environment(loader=PackageLoader("returnrisk.fixes", "templates"), autoescape=select_autoescape(["html"]),
                     trim_blocks=True, lstrip_blocks=True)
_PAGES.filters["anchor"] = _anchor


def _short(label: str, room: int) -> str:
    """``label`` cut to ``room`` characters (with "…"): chart labels sit in a fixed margin."""
    return label if len(label) <= room else label[:room - 1] + "…"


def reasons_chart(profile: dict, threshold: float, width: int = 560) -> str:
    """Paired bars: the product's rate of each reason (with returns) against its category's; red
    where the product is worse with ``P(worse) ≥ threshold`` (the report's flag threshold).
    Empty when no reason is worth showing."""
    reasons = [r for r in profile["reasons"] if (r["returns"] or 0) > 0 or (r["category_rate"] or 0) > 0.004]
    if not reasons:
        return ""
    return charts.paired_bars(
        f"reason rates of {profile['product_id']} against its category",
        [(_short(r["label"]["en"], 22), r["rate"] or 0.0, r["category_rate"] or 0.0) for r in reasons],
        ("this product", "category"), width=width,
        flagged=[(r["p_worse"] or 0.0) >= threshold for r in reasons], flagged_name=f"worse, P ≥ {threshold:g}",
    )


def drivers_chart(profile: dict, width: int = 560) -> str:
    """Diverging bars: the model's mean SHAP contributions for the product's recent sales (empty
    when the product has none)."""
    drivers = profile.get("drivers") or []
    if not drivers:
        return ""
    return charts.drivers_chart(f"model drivers of {profile['product_id']}",
                                [{"label": _short(d["label"]["en"], 40), "contribution": d["contribution"]}
                                 for d in drivers],
                                width=width)


def to_html(report: FixReport, max_products: int | None = None) -> str:
    """The report as one self-contained HTML page (see the module docstring)."""
    threshold = report.params.flag_threshold
    by_product: dict[str, list] = {}
    for fix in report.suggestions:
        by_product.setdefault(fix.product_id, []).append(fix)
    order = list(by_product)[:max_products] if max_products is not None else list(by_product)
    products = [{"product_id": pid, "profile": report.profiles[pid], "fixes": by_product[pid],
                 "reasons_chart": reasons_chart(report.profiles[pid], threshold),
                 "drivers_chart": drivers_chart(report.profiles[pid])}
                for pid in order if pid in report.profiles]
    return _PAGES.get_template("report.html").render(
        report=report, summary=report.summary(), threshold=threshold, products=products,
        colours=_LEVER_COLOURS, short=LEVER_SHORT)
