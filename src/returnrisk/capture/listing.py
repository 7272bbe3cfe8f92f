"""The customer returns as the merchant reads them: ``GET /v1/returns`` and the export's exchanges.csv.

Each customer return (portal, e-mail) joined with the returns store's record of its line (dates,
reason as given or inferred) and its photos' metadata, joined by ``(line_id, return_id)``.
"""

from __future__ import annotations

import pandas as pd

from returnrisk.capture.records import CaptureRecords
from returnrisk.operations.store import ReturnStore
from returnrisk.timeutil import iso

__all__ = ["EXPORT_COLUMNS", "customer_return_rows", "exchanges_table"]

#: Columns of exchanges.csv (written by ``returnrisk export-returns`` beside returns.csv).
EXPORT_COLUMNS = ["return_id", "request_id", "line_id", "order_id", "product_id", "channel", "returned_at",
                  "quantity", "reason", "resolution", "exchange_offered", "size_ordered", "size_offered",
                  "size_asked", "offer_source", "unit_price", "currency", "photos", "recorded_at"]


def customer_return_rows(store: ReturnStore, records: CaptureRecords, *, exchange: bool | None = None,
                         channel: str | None = None, limit: int | None = 100, offset: int = 0) -> list[dict]:
    """Recorded customer returns, newest first (``exchange``: True only exchanges, False only the others)."""
    rows = records.customer_returns(exchange=exchange, channel=channel, limit=limit, offset=offset)
    photos = records.photos_of_requests(r["request_id"] for r in rows)
    out = []
    for row in rows:
        stored = store.get(row["line_id"], row["return_id"])
        record = stored.to_dict() if stored is not None else {}
        out.append({
            "return_id": row["return_id"], "request_id": row["request_id"], "line_id": row["line_id"],
            "order_id": row["order_id"], "product_id": row["product_id"], "channel": row["channel"],
            "returned_at": record.get("returned_at"), "quantity": int(row["quantity"]),
            "reason": record.get("reason"), "reason_code": record.get("reason_code"),
            "reason_text": record.get("reason_text"), "reason_code_inferred": record.get("reason_code_inferred"),
            "reason_confidence": record.get("reason_confidence"), "reason_review": record.get("reason_review"),
            "resolution": row["resolution"], "exchange_offered": bool(row["exchange_offered"]),
            "size_ordered": row["size_ordered"], "size_offered": row["size_offered"], "size_asked": row["size_asked"],
            "offer_source": row["offer_source"], "unit_price": row["unit_price"], "currency": row["currency"],
            "review": bool(row["review"]), "lang": row["lang"], "recorded_at": iso(row["created_at"]),
            "photos": [{"photo_id": p["photo_id"], "file_name": p["file_name"], "content_type": p["content_type"],
                        "bytes": p["bytes"], "width": p["width"], "height": p["height"]}
                       for p in photos if p["request_id"] == row["request_id"] and p["line_id"] == row["line_id"]],
        })
    return out


def exchanges_table(store: ReturnStore, records: CaptureRecords) -> pd.DataFrame:
    """Every customer return offered an exchange or declared with a resolution (one row each)."""
    rows = customer_return_rows(store, records, limit=None)
    frame = pd.DataFrame([{**r, "photos": len(r["photos"])} for r in rows], columns=EXPORT_COLUMNS)
    return frame.sort_values(["recorded_at", "return_id"], kind="stable").reset_index(drop=True)
