"""What a logged model says about itself: its run name, its inputs and outputs (the MLflow
signature) and an input example."""

from __future__ import annotations

import uuid

import pandas as pd

from returnrisk.features.snapshot import Snapshot

__all__ = ["run_name", "model_io_columns", "input_example", "ORDER_LINE_COLUMNS"]

#: The order-line columns of the data contract (the training rows' schema logged with the input).
ORDER_LINE_COLUMNS = ("line_id", "order_id", "customer_id", "product_id", "size", "quantity", "unit_price",
                      "ordered_at")


def run_name(as_of: pd.Timestamp, kind: str = "train") -> str:
    """A unique, readable run name: what, as of when, started when, and a short id."""
    now = pd.Timestamp.now(tz="UTC")
    return f"{kind} as-of {as_of:%Y-%m-%d} · {now:%Y-%m-%d %H:%M:%S} · {uuid.uuid4().hex[:6]}"


def model_io_columns() -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]:
    """The pyfunc's inputs ``(name, kind, required)`` — order-line columns (only ``product_id``
    required) and the product attributes a new product may carry — and outputs ``(name, kind)``."""
    from returnrisk.data.contract import table_spec
    from returnrisk.scoring.batch import PRODUCT_FIELDS
    from returnrisk.taxonomy import RETURN_GROUPS

    inputs = [(c.name, c.kind, c.name == "product_id") for c in table_spec("order_lines").columns]
    names = {name for name, _, _ in inputs}
    inputs += [(c.name, c.kind, False) for c in PRODUCT_FIELDS if c.name not in names]
    outputs = [("line_id", "string"), ("p_return", "number"), *((f"p_{g}", "number") for g in RETURN_GROUPS),
               ("risk_band", "string")]
    return inputs, outputs


def input_example(snapshot: Snapshot, as_of: pd.Timestamp) -> pd.DataFrame:
    """Two lines for the model's input example: a product the model knows (in a size it sold) and
    a new product sent with its page attributes. No customer of the shop appears in it."""
    sized = snapshot.product_sizes.dropna(subset=["size"])
    known = sized.iloc[0] if len(sized) else None
    product_id = str(known["product_id"]) if known is not None else str(snapshot.products.index[0])
    category = str(snapshot.products["category"].dropna().iloc[0]) if len(snapshot.products) else "unknown"
    when = pd.Timestamp(as_of).strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame([
        {"line_id": "example-1", "order_id": "example-order", "customer_id": "example-customer",
         "product_id": product_id, "size": str(known["size"]) if known is not None else None, "quantity": 1.0,
         "ordered_at": when, "category": None, "price": None},
        {"line_id": "example-2", "order_id": "example-order", "customer_id": "example-customer",
         "product_id": "example-new-product", "size": None, "quantity": 1.0, "ordered_at": when,
         "category": category, "price": 49.0},
    ])
