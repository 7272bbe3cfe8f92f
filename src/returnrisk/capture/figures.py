"""What the shop sees of its capture channels: returns by channel, share with a reason, exchanges.

* ``by_channel`` — returns per channel: the returns of the shop's history files count as
  ``import``; recorded returns by their channel (``form`` and ``other``, the first API values,
  count as ``api``). A recorded return exported into the history is counted once, as recorded.
* ``reason_share`` — share of returns whose reason is known (given, or inferred from the
  customer's words with confidence; an uncertain guess sent to review is not a known reason):
  ``before``: the shop's history; ``after``: every return recorded since the portal's first one.
* ``exchanges`` — returns for "Too small"/"Too large" offered an exchange: exchanges vs refunds,
  and the sales kept by the exchanges (units, and money per currency).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop
from returnrisk.timeutil import iso

__all__ = ["CHANNEL_GROUPS", "capture_figures"]

#: Channel as stored → channel shown.
CHANNEL_GROUPS = {"portal": "portal", "email": "email", "api": "api", "form": "api", "other": "api",
                  "import": "import", "webhook": "webhook"}
_SHOWN = ("portal", "email", "api", "import", "webhook")


def _share(known: int, total: int) -> float | None:
    return round(known / total, 4) if total else None


def _history_not_recorded(shop: Shop | None, stored: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history's return events and returned lines that are not recorded returns exported back."""
    if shop is None:
        empty = pd.DataFrame({"line_id": [], "returned_at": []})
        return empty, empty
    recorded = set(zip(stored["line_id"].astype(str), stored["returned_at"].map(iso), strict=True)) \
        if len(stored) else set()

    def keep(table: pd.DataFrame) -> pd.DataFrame:
        if not recorded or table.empty:
            return table
        keys = zip(table["line_id"].astype(str), table["returned_at"].map(iso), strict=True)
        return table[[k not in recorded for k in keys]]

    return keep(shop.return_events), keep(shop.returns)


def _known_history(returns: pd.DataFrame) -> int:
    if returns.empty or "reason_source" not in returns.columns:
        return 0
    source = returns["reason_source"].astype(str)
    review = returns["reason_review"].fillna(False).astype(bool) if "reason_review" in returns.columns \
        else pd.Series(False, index=returns.index)
    return int(((source == "given") | ((source == "inferred") & ~review)).sum())


def _known_recorded(stored: pd.DataFrame) -> int:
    if stored.empty:
        return 0
    given = stored["reason_code"].notna()
    inferred = stored["reason_code_inferred"].notna() & ~stored["reason_review"].fillna(False).astype(bool)
    return int((given | inferred).sum())


def _exchanges(customer: pd.DataFrame, currency: str) -> dict:
    offered = customer[customer["exchange_offered"].fillna(False).astype(bool)] if len(customer) else customer
    exchanged = offered[offered["resolution"] == "exchange"] if len(offered) else offered
    value: dict[str, float] = {}
    for _, row in exchanged.iterrows():
        if row["unit_price"] is None or (isinstance(row["unit_price"], float) and np.isnan(row["unit_price"])):
            continue
        key = row["currency"] or currency
        value[key] = round(value.get(key, 0.0) + float(row["unit_price"]) * int(row["quantity"]), 2)
    n_offered, n_exchanged = len(offered), len(exchanged)
    single = len(value) <= 1   # amounts are summed per currency, never across currencies
    return {"offered": n_offered, "exchanges": n_exchanged, "refunds": n_offered - n_exchanged,
            "exchange_share": _share(n_exchanged, n_offered),
            "units_kept": int(exchanged["quantity"].sum()) if n_exchanged else 0,
            "value_kept_by_currency": value,
            "currency": next(iter(value)) if len(value) == 1 else (currency if not value else None),
            "value_kept": round(sum(value.values()), 2) if single else None}


def capture_figures(stored: pd.DataFrame, customer: pd.DataFrame, shop: Shop | None, currency: str) -> dict:
    """``stored``: the returns store's frame; ``customer``: the recorded customer returns (capture table)."""
    events, lines = _history_not_recorded(shop, stored)
    counts = {name: 0 for name in _SHOWN}
    counts["import"] += len(events)
    if len(stored):
        for channel, n in stored["channel"].map(lambda c: CHANNEL_GROUPS.get(c, "api")).value_counts().items():
            counts[channel] += int(n)
    portal = stored[stored["channel"] == "portal"] if len(stored) else stored
    since = portal["recorded_at"].min() if len(portal) else None
    after = stored[stored["recorded_at"] >= since] if since is not None else stored.iloc[0:0]
    before_known, after_known = _known_history(lines), _known_recorded(after)
    return {
        "by_channel": counts,
        "total": int(sum(counts.values())),
        "portal_since": iso(since) if since is not None else None,
        "reason_share": {"before": _share(before_known, len(lines)), "before_returns": len(lines),
                         "after": _share(after_known, len(after)), "after_returns": len(after)},
        "exchanges": _exchanges(customer, currency),
    }
