"""A short description of a loaded shop: sizes, dates, return rate, reason capture."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from returnrisk.data.loader import Shop

__all__ = ["ShopSummary", "summarize_shop"]


@dataclass
class ShopSummary:
    rows: dict[str, dict[str, int]]
    first_order: str | None
    last_order: str | None
    last_return: str | None
    n_customers: int
    n_orders: int
    return_rate: float
    share_with_code: float
    share_text_only: float
    share_code_and_text: float
    share_without_reason: float
    share_inferred: float
    quarantine_files: dict[str, str]
    non_merchandise: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _iso(ts) -> str | None:
    return None if ts is None or ts != ts else ts.isoformat()


def summarize_shop(shop: Shop) -> ShopSummary:
    lines, returns = shop.order_lines, shop.returns
    n_returns = len(returns)
    code_given = (returns["reason_source"] == "given")
    has_text = returns["reason_text"].notna()
    share = (lambda mask: float(mask.sum()) / n_returns if n_returns else 0.0)
    return ShopSummary(
        rows={
            name: {"read": t.rows_read, "kept": t.rows_kept, "quarantined": t.rows_quarantined,
                   "excluded": t.rows_excluded}
            for name, t in shop.tables.items()
        },
        first_order=_iso(lines["ordered_at"].min()),
        last_order=_iso(lines["ordered_at"].max()),
        last_return=_iso(returns["returned_at"].max()) if n_returns else None,
        n_customers=int(lines["customer_id"].nunique()),
        n_orders=int(lines["order_id"].nunique()),
        return_rate=float(n_returns) / len(lines) if len(lines) else 0.0,
        share_with_code=share(code_given),
        share_text_only=share(~code_given & has_text),
        share_code_and_text=share(code_given & has_text),
        share_without_reason=share(~code_given & ~has_text),
        share_inferred=share(returns["reason_source"] == "inferred"),
        quarantine_files={
            name: str(t.quarantine_file) for name, t in shop.tables.items() if t.quarantine_file
        },
        non_merchandise=shop.merchandise.to_dict(),
    )
