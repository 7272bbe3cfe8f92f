"""Collected returns and refunds → the contract's ``returns`` table; refunds are not returns.

Inputs are the platform's return records (Shopify ``Return`` line items, PrestaShop order
returns) and refunded lines (Shopify ``refundLineItems``, WooCommerce refund ``line_items``,
PrestaShop credit-slip details). Each gets one outcome:

* a return record is written (``returned_at`` its creation; ``refunded_at`` the first refund of
  its line at or after it), unless ``declined_or_cancelled``, ``line_not_imported`` (its line was
  skipped: test order, …), ``unreadable_date`` or ``duplicate_in_pages``;
* a refunded line whose line already has a written return is ``refund_of_a_return`` (it dates the
  refund);
* a refunded line with goods coming back (Shopify ``restockType`` RETURN, a WooCommerce refund
  line with a quantity) is written as a return of its own (``return_id`` = the platform's return,
  or ``refund-<refund id>``; the refund note is the ``reason_text``);
* any other refunded line is ``refund_without_return`` (price adjustment, item never shipped):
  counted, with its units and amount per currency, and never written as a return.

Refunds with no line at all (a shipping refund, an order adjustment) are counted apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.importers.collector import Collector
from returnrisk.importers.report import ImportReport
from returnrisk.importers.times import parse_times
from returnrisk.importers.values import isin

__all__ = ["assemble_returns", "RETURN_COLUMNS"]

RETURN_COLUMNS = ["line_id", "returned_at", "reason_code", "reason_text", "refunded_at", "quantity", "return_id"]


def _tally(report: ImportReport, outcome: pd.Series) -> None:
    for value, n in outcome.value_counts().items():
        if value != "written":
            report.returns.skip(str(value), int(n))
    report.returns.written += int((outcome == "written").sum())


def _refunded_at(returns: pd.DataFrame, refunds: pd.DataFrame) -> pd.Series:
    """First refund of each return's line at or after the return (its own refunds first)."""
    if returns.empty or refunds.empty:
        return pd.Series(pd.NaT, index=returns.index, dtype="datetime64[ns, UTC]")
    left = returns[["line_id", "return_id", "returned_at"]].reset_index(names="row")
    pairs = left.merge(refunds[["line_id", "return_id", "created_at"]].rename(columns={"return_id": "refund_of"}),
                       on="line_id", how="inner")
    pairs = pairs[(pairs["created_at"] >= pairs["returned_at"].dt.floor("D")).fillna(False)]
    own = pairs[(pairs["refund_of"] == pairs["return_id"]).fillna(False)].groupby("row")["created_at"].min()
    first = pairs.groupby("row")["created_at"].min()
    return own.combine_first(first).reindex(returns.index).astype("datetime64[ns, UTC]")


def assemble_returns(collector: Collector, kept_lines: pd.DataFrame, report: ImportReport,
                     timezone: str) -> pd.DataFrame:
    """The returns table; fills ``report.returns`` and ``report.refunds_without_return``."""
    ordered = kept_lines.set_index("line_id")
    records = collector.frame("returns")
    refunds = collector.frame("refund_lines")
    report.returns.read = len(records) + len(refunds)

    records["returned_at"] = parse_times(records["returned_at"], timezone)
    outcome = pd.Series("written", index=records.index, dtype=object)
    outcome[records["declined"].astype("boolean").fillna(False).to_numpy(dtype=bool)] = "declined_or_cancelled"
    dup = records.duplicated(["return_id", "line_id"], keep="last").to_numpy()
    outcome[(outcome == "written").to_numpy() & dup] = "duplicate_in_pages"
    outcome[(outcome == "written").to_numpy() & ~isin(records["line_id"], ordered.index.to_series())] = "line_not_imported"
    outcome[(outcome == "written").to_numpy() & records["returned_at"].isna().to_numpy()] = "unreadable_date"
    _tally(report, outcome)
    written = records[(outcome == "written").to_numpy()].copy()

    refunds["created_at"] = parse_times(refunds["created_at"], timezone)
    fate = pd.Series("refund_without_return", index=refunds.index, dtype=object)
    fate[refunds.duplicated(["refund_id", "line_id"], keep="last").to_numpy()] = "duplicate_in_pages"
    open_ = (fate == "refund_without_return").to_numpy()
    fate[open_ & ~isin(refunds["line_id"], ordered.index.to_series())] = "line_not_imported"
    open_ = (fate == "refund_without_return").to_numpy()
    fate[open_ & isin(refunds["line_id"], written["line_id"])] = "refund_of_a_return"
    open_ = (fate == "refund_without_return").to_numpy()
    goods = refunds["goods_back"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    fate[open_ & goods & refunds["created_at"].isna().to_numpy()] = "unreadable_date"
    fate[open_ & goods & refunds["created_at"].notna().to_numpy()] = "written"
    _tally(report, fate)

    heads = collector.frame("refunds").drop_duplicates("refund_id", keep="last")
    heads["created_at"] = parse_times(heads["created_at"], timezone)
    by_return = heads.dropna(subset=["return_id", "created_at"]).groupby("return_id")["created_at"].min()
    written["refunded_at"] = _refunded_at(written, refunds[fate.isin(["refund_of_a_return"]).to_numpy()])
    from_heads = pd.Series(by_return.reindex(pd.Index(written["return_id"])).to_numpy(), index=written.index,
                           dtype="datetime64[ns, UTC]")
    written["refunded_at"] = written["refunded_at"].fillna(from_heads)
    from_refunds = refunds[(fate == "written").to_numpy()]
    as_returns = pd.DataFrame({
        "line_id": from_refunds["line_id"],
        "returned_at": from_refunds["created_at"],
        "reason_code": pd.Series(pd.NA, index=from_refunds.index, dtype="string"),
        "reason_text": from_refunds["note"],
        "refunded_at": from_refunds["created_at"],
        "quantity": from_refunds["quantity"].abs(),
        "return_id": from_refunds["return_id"].fillna("refund-" + from_refunds["refund_id"].astype(str)),
    })
    returns = pd.concat([written[RETURN_COLUMNS], as_returns[RETURN_COLUMNS]], ignore_index=True)
    line_quantity = returns["line_id"].map(ordered["quantity"])
    returns["quantity"] = returns["quantity"].where(returns["quantity"].fillna(0) > 0, line_quantity).astype("int64")
    _refunds_without_return(heads, refunds[(fate == "refund_without_return").to_numpy()], ordered, report)
    for column in ("reason_code", "reason_text", "return_id", "line_id"):
        returns[column] = returns[column].astype("string")
    return returns.sort_values(["returned_at", "line_id", "return_id"], kind="stable").reset_index(drop=True)


def _refunds_without_return(refunds: pd.DataFrame, lines: pd.DataFrame, ordered: pd.DataFrame,
                            report: ImportReport) -> None:
    # a refund with no line that is tied to a return (Shopify bulk exports) is that return's refund
    bare = refunds[(refunds["n_lines"].fillna(0) == 0).to_numpy() & refunds["return_id"].isna().to_numpy()
                   & isin(refunds["order_id"], ordered["order_id"])]
    currency = lines["line_id"].map(ordered["currency"])
    amounts: dict[str, float] = {}
    for code, value in zip(currency.fillna("unknown"), lines["amount"].fillna(0.0)):
        amounts[str(code)] = amounts.get(str(code), 0.0) + float(abs(value))
    bare_amounts: dict[str, float] = {}
    for code, value in zip(bare["currency"].fillna("unknown"), bare["amount"].fillna(0.0)):
        bare_amounts[str(code)] = bare_amounts.get(str(code), 0.0) + float(abs(value))
    report.refunds_without_return = {
        "lines": int(len(lines)),
        "units": int(np.abs(lines["quantity"].fillna(0)).sum()),
        "amount": dict(sorted(amounts.items())),
        "refunds_without_lines": int(len(bare)),
        "refunds_without_lines_amount": dict(sorted(bare_amounts.items())),
        "note": "refunds with no goods coming back (price adjustments, items never shipped, shipping "
                "refunds): not returns, so not in the returns table",
    }
