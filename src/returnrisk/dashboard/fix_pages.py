"""What the fix list and the fixes of a product page show: rows with their status, buttons,
money per language and currency, the measured effect and its before/after chart."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from returnrisk import charts
from returnrisk.errors import InputError
from returnrisk.fixes.ids import is_fix_id
from returnrisk.fixes.status import DISMISS_REASONS, TRANSITIONS, StatusChange
from returnrisk.lifecycle import FixPage, FixQuery, FixRow
from returnrisk.lifecycle.effects import WeeklyComparison
from returnrisk.lifecycle.labels import DISMISS_LABELS, VERDICT_LABELS, lever_name, phase_label
from returnrisk.lifecycle.money import money, money_totals, number, percent, points

__all__ = ["STATUS_CHOICES", "FixView", "effect_panel", "fix_list_page", "fix_view", "form_change", "list_params", "product_fixes"]

#: The status filter's choices: "" is the to-do list.
STATUS_CHOICES: tuple[str, ...] = ("", "open", "in_progress", "done", "measuring", "measured", "dismissed", "all")


@dataclass
class FixView:
    fix_id: str
    product_id: str
    title: str | None
    size: str | None
    shop_url: str | None
    image_url: str | None
    category: str
    brand: str | None
    lever: str
    lever_label: str
    message: str
    status: str
    phase: str
    phase_label: str
    savings: str
    returns: str
    sales_text: str
    flagged_since: str
    live_at: str | None
    effect_text: str
    effect_title: str
    effect_class: str
    changed_text: str
    returned_text: str
    suggested: bool
    actions: tuple[str, ...]
    dismiss_choices: list[tuple[str, str]]
    today: str


def _effect_cell(row: FixRow, lang: str, t) -> tuple[str, str, str]:
    """(text, tooltip, css class) of the effect column."""
    effect = row.effect
    if row.status != "done" or not effect:
        return "—", "", "muted"
    if effect["status"] == "too_early":
        return t("too_early"), effect.get("reason") or "", "muted"
    if effect["status"] != "measured":
        return t("not_measurable"), effect.get("reason") or "", "muted"
    verdict = effect.get("verdict") or ""
    text = (f"{points(effect['effect'], lang)} ({points(effect['low'], lang)} … {points(effect['high'], lang)}) · "
            f"{VERDICT_LABELS.get(verdict, {}).get(lang, verdict)}")
    css = "good" if verdict == "reduced" else "bad" if verdict == "increased" else "muted"
    return text, effect.get("reason") or "", css


def _actions(status: str) -> tuple[str, ...]:
    allowed = TRANSITIONS[status]
    out = []
    if "in_progress" in allowed and status != "in_progress":
        out.append("in_progress")
    if "done" in allowed and status != "done":
        out.append("done")
    if "dismissed" in allowed and status != "dismissed":
        out.append("dismissed")
    if "open" in allowed and status != "open":
        out.append("open")
    return tuple(out)


def fix_view(row: FixRow, lang: str, t, main_currency: str) -> FixView:
    fix = row.fix
    evidence = fix.get("evidence") or {}
    currency = row.currency or main_currency
    effect_text, effect_title, effect_class = _effect_cell(row, lang, t)
    change = row.change or {}
    changed = ""
    if change:
        changed = t("changed_by", status=phase_label(row.status, lang), who=change["changed_by"],
                    when=change["changed_at"][:10])
    return FixView(
        fix_id=row.fix_id, product_id=row.product_id, title=row.title, size=fix.get("size"),
        shop_url=None if row.product is None else row.product.url,
        image_url=None if row.product is None else row.product.image_url,
        category=fix.get("category") or "", brand=fix.get("brand"), lever=row.lever,
        lever_label=lever_name(row.lever, lang), message=(fix.get("message") or {}).get(lang, ""),
        status=row.status, phase=row.phase, phase_label=phase_label(row.phase, lang),
        savings=money(fix.get("expected_savings_per_month"), currency, lang),
        returns=number(fix.get("expected_returns_avoided_per_month"), lang),
        sales_text=t("sales_returns", sales=number(evidence.get("sales"), lang, 0),
                     returns=number(evidence.get("returns"), lang, 0)),
        flagged_since=fix.get("flagged_since") or "—", live_at=change.get("live_at"),
        effect_text=effect_text, effect_title=effect_title, effect_class=effect_class, changed_text=changed,
        returned_text=t("returned_after_dismissal", why=row.returned) if row.returned else "",
        suggested=row.suggested, actions=_actions(row.status),
        dismiss_choices=[(r, DISMISS_LABELS[r][lang]) for r in DISMISS_REASONS],
        today=dt.date.today().isoformat(),
    )


def list_params(query: FixQuery, status_text: str) -> dict[str, str]:
    """The query string of a view (without offset), as the links and the CSV export repeat it."""
    params = {"status": status_text, "lever": query.lever or "", "category": query.category or "",
              "brand": query.brand or "", "q": query.search or "", "sort": query.sort,
              "order": "" if query.descending is None else ("desc" if query.descending else "asc"),
              "limit": str(query.limit)}
    return {k: v for k, v in params.items() if v}


def fix_list_page(state, page: FixPage, query: FixQuery, status_text: str, lang: str, t, main_currency: str) -> dict:
    base = list_params(query, status_text)
    natural = {"rank": False, "product": False, "title": False, "lever": False, "status": False}

    def sort_url(key: str) -> str:
        current = query.descending if query.descending is not None else key not in natural
        order = ("asc" if current else "desc") if key == query.sort else None
        params = {**base, "sort": key, "lang": lang}
        params.pop("order", None)
        if order:
            params["order"] = order
        return "/dashboard/fixes?" + urlencode(params)

    def page_url(offset: int) -> str:
        return "/dashboard/fixes?" + urlencode({**base, "offset": offset, "lang": lang})

    rows = [fix_view(r, lang, t, main_currency) for r in page.rows]
    fixes = state.report.fixes
    end = page.offset + len(rows)
    levers = sorted({r.lever for r in state.rows})
    capture = getattr(state.report, "reason_capture", None)
    return {
        "reason_note": capture.message if capture is not None else None,
        "rows": rows, "total": page.total, "first": page.offset + 1 if rows else 0, "last": end,
        "prev_page_url": page_url(max(page.offset - page.limit, 0)) if page.offset > 0 else None,
        "next_page_url": page_url(end) if end < page.total else None,
        "csv_url": "/dashboard/fixes.csv?" + urlencode({**base, "offset": page.offset, "lang": lang}),
        "sort_url": sort_url, "sort": query.sort,
        "totals": money_totals(page.savings_by_currency, main_currency, lang),
        "returns_total": number(page.returns_avoided, lang),
        "levers": [(lever, lever_name(lever, lang)) for lever in levers],
        "categories": sorted({f["category"] for f in fixes if f.get("category")}),
        "brands": sorted({f["brand"] for f in fixes if f.get("brand")}),
        "statuses": [(s, t("todo") if s == "" else t("every_status") if s == "all" else phase_label(s, lang))
                     for s in STATUS_CHOICES],
    }


def effect_panel(row: FixRow, comparison: WeeklyComparison | None, lang: str, t, main_currency: str) -> dict | None:
    """The measured effect of a done fix on its product page: sentences and the before/after chart."""
    effect = row.effect
    if row.status != "done" or not effect:
        return None
    currency = row.currency or main_currency
    lines = []
    if effect.get("rate_before") is not None:
        lines.append(t("effect_rate", before=percent(effect["rate_before"], lang),
                       after=percent(effect["rate_after"], lang), cb=percent(effect["comparison_before"], lang),
                       ca=percent(effect["comparison_after"], lang)))
    if effect["status"] == "measured":
        level = percent(effect["level"], lang, 0)
        lines.append(t("effect_change", effect=points(effect["effect"], lang), level=level,
                       low=points(effect["low"], lang), high=points(effect["high"], lang)))
        avoided, saved = effect.get("returns_avoided_per_month") or {}, effect.get("savings_per_month") or {}
        expected = (effect.get("expected") or {}).get("savings_per_month")
        lines.append(t("effect_money", returns=number(avoided.get("estimate"), lang),
                       money=money(saved.get("estimate"), currency, lang), low=money(saved.get("low"), currency, lang),
                       high=money(saved.get("high"), currency, lang), expected=money(expected, currency, lang)))
    else:
        lines.append(t("effect_wait", why=effect.get("reason") or ""))
    chart = None
    if comparison is not None:
        chart = charts.line_chart(
            t("before_after"), [w[5:] for w in comparison.weeks],
            {t("fixed_product"): comparison.product, t("comparison"): comparison.comparison},
            marker=(comparison.live_index, t("live")))
    verdict = effect.get("verdict")
    return {"fix_id": row.fix_id, "lever_label": lever_name(row.lever, lang), "lines": lines, "chart": chart,
            "status": effect["status"], "verdict": verdict,
            "verdict_label": VERDICT_LABELS.get(verdict or effect["status"], {}).get(lang, ""),
            "effect": effect}


def product_fixes(state, product_id: str, chart_of, lang: str, t, main_currency: str) -> dict:
    """The product page's part of the lifecycle: its fixes (status, buttons), the measured effect of
    its done fixes with their before/after chart (``chart_of(fix_id)``), its catalogue entry.
    ``state`` ``None`` (statuses unavailable): nothing of it."""
    if state is None:
        return {"fix_views": [], "effects": [], "product_info": None}
    rows = [r for r in state.rows if r.product_id == product_id]
    views = [fix_view(r, lang, t, main_currency) for r in rows]
    effects = [panel for r in rows if r.status == "done"
               if (panel := effect_panel(r, chart_of(r.fix_id), lang, t, main_currency))]
    return {"fix_views": views, "effects": effects, "product_info": state.catalogue.get(product_id)}


def form_change(fix_id: str, status: str, live_at: str, note: str, dismiss_reason: str) -> StatusChange:
    """A status form's fields → the change (``InputError`` naming a bad id or date)."""
    if not is_fix_id(fix_id):
        raise InputError(f"{fix_id!r} is not a fix id (12 hex digits): open the fix from the fix list")
    try:
        day = dt.date.fromisoformat(live_at.strip()) if live_at.strip() else None
    except ValueError:
        raise InputError(f"live date {live_at!r} is not a date: use YYYY-MM-DD") from None
    return StatusChange(status=status, live_at=day, note=note.strip() or None, dismiss_reason=dismiss_reason or None)
