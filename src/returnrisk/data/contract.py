"""The input data contract: the three tables a shop hands over, column by column.

This module is the single source of truth for the contract: the loader parses and checks
against it, the demo shop writes it, and ``docs/data-contract.md`` documents it (a test keeps
the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from returnrisk.taxonomy import REASON_CODES

__all__ = ["ColumnSpec", "TableSpec", "TABLES", "TABLE_NAMES", "table_spec"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    ``kind`` is one of ``string``, ``number``, ``integer``, ``boolean``, ``timestamp``.
    ``minimum`` applies to numbers and integers; ``choices`` to strings. ``identifier`` marks the
    id columns: a placeholder text such as ``NULL`` there is a bad value, not a missing one.
    """

    name: str
    kind: str
    required: bool
    unique: bool = False
    minimum: float | None = None
    choices: tuple[str, ...] | None = None
    notes: str = ""
    identifier: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[ColumnSpec, ...]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


PRODUCTS = TableSpec(
    "products",
    "one row per product",
    (
        ColumnSpec("product_id", "string", True, unique=True, notes="unique", identifier=True),
        ColumnSpec("category", "string", True, notes="e.g. dresses, jeans, shoes, bags"),
        ColumnSpec("brand", "string", False),
        ColumnSpec("price", "number", True, minimum=0, notes="list price"),
        ColumnSpec("has_size_guide", "boolean", False, notes="true/false, 1/0, yes/no accepted"),
        ColumnSpec("n_photos", "integer", False, minimum=0),
        ColumnSpec("description", "string", False, notes="free text"),
        ColumnSpec("created_at", "timestamp", False, notes="product launch"),
        ColumnSpec("title", "string", False, notes="the product's name as customers see it"),
        ColumnSpec("url", "string", False, notes="the product page"),
        ColumnSpec("image_url", "string", False, notes="the product's main image"),
    ),
)

ORDER_LINES = TableSpec(
    "order_lines",
    "one row per ordered line",
    (
        ColumnSpec("line_id", "string", True, unique=True, notes="unique", identifier=True),
        ColumnSpec("order_id", "string", True, identifier=True),
        ColumnSpec("customer_id", "string", True, identifier=True),
        ColumnSpec("product_id", "string", True, notes="must exist in products", identifier=True),
        ColumnSpec("size", "string", False, notes="label as sold; empty for unsized products"),
        ColumnSpec("quantity", "integer", False, minimum=1, notes="default 1"),
        ColumnSpec("unit_price", "number", False, minimum=0, notes="default: product price"),
        ColumnSpec("ordered_at", "timestamp", True),
        ColumnSpec("order_number", "string", False, notes="the number customers quote, e.g. #1001"),
        ColumnSpec("currency", "string", False, notes="ISO 4217 code of unit_price, e.g. EUR"),
    ),
)

RETURNS = TableSpec(
    "returns",
    "one row per return of a line (a line may come back in several parts)",
    (
        ColumnSpec(
            "line_id", "string", True, identifier=True,
            notes="must exist in order_lines; several returns of one line sum to at most its quantity",
        ),
        ColumnSpec("returned_at", "timestamp", True, notes="not before the line's ordered_at"),
        ColumnSpec("reason_code", "string", False, choices=REASON_CODES,
                   notes="one of the taxonomy, or empty"),
        ColumnSpec("reason_text", "string", False, notes="the customer's own words"),
        ColumnSpec("refunded_at", "timestamp", False, notes="not before returned_at"),
        ColumnSpec("return_cost", "number", False, minimum=0,
                   notes="shipping + handling for this return"),
        ColumnSpec("quantity", "integer", False, minimum=1,
                   notes="units returned; default: the whole line"),
        ColumnSpec("return_id", "string", False, identifier=True,
                   notes="the platform's id of the return (one return may cover several lines)"),
    ),
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (PRODUCTS, ORDER_LINES, RETURNS)}
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def table_spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}: the contract has {', '.join(TABLES)}") from None
