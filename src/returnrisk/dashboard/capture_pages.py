"""The dashboard's view of the capture channels: the overview's section and the review page."""

from __future__ import annotations

from returnrisk import charts

__all__ = ["capture_section", "review_page", "CHANNEL_KEYS"]

#: Channels shown on the overview, in order (webhook only when some returns came that way).
CHANNEL_KEYS = ("portal", "email", "api", "import", "webhook")


def _pct(value) -> str:
    return "—" if value is None else f"{value:.0%}"


def _money(value, currency: str | None) -> str:
    return "—" if value is None else f"{value:,.0f} {currency or ''}".strip()


def capture_section(figures: dict, t) -> dict:
    """Cards and chart of ``CaptureDesk.figures()`` for the overview."""
    counts = figures["by_channel"]
    shown = [k for k in CHANNEL_KEYS if k != "webhook" or counts.get(k)]
    channels = [(t(f"channel_{k}"), counts.get(k, 0)) for k in shown]
    total = sum(n for _, n in channels) or 1
    chart = charts.bar_chart(t("returns_by_channel"), [(name, n / total) for name, n in channels])
    share, ex = figures["reason_share"], figures["exchanges"]
    return {
        "channels": [{"key": k, "label": label, "count": n} for k, (label, n) in zip(shown, channels, strict=True)],
        "channel_chart": chart,
        "reason_before": _pct(share["before"]), "reason_before_n": f"{share['before_returns']:,}",
        "reason_after": _pct(share["after"]), "reason_after_n": f"{share['after_returns']:,}",
        "portal_since": (figures.get("portal_since") or "")[:10],
        "offered": ex["offered"], "exchanges": ex["exchanges"], "refunds": ex["refunds"],
        "exchange_share": _pct(ex["exchange_share"]), "units_kept": ex["units_kept"],
        "value_kept": _money(ex["value_kept"], ex["currency"]) if ex["value_kept"] is not None else
        ", ".join(_money(v, c) for c, v in ex["value_kept_by_currency"].items()),
    }


def review_page(review: dict) -> dict:
    return {"items": review["items"], "open": review["open"]}
