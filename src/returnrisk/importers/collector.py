"""Where the platform readers put what they find, column by column, in bounded memory.

A reader walks the platform's JSON and calls :meth:`Collector.add` with one row of one of the
tables below; rows are kept as Python values only until :data:`CHUNK_ROWS` of them are collected,
then packed into an Arrow chunk. :mod:`returnrisk.importers.assemble` turns the tables into the
contract's three tables.

Times are kept as the platform's text and parsed in bulk later (naive texts are read in the
shop's time zone). Ids are plain strings (``gid://…/123`` → ``"123"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

__all__ = ["Collector", "TABLES", "CHUNK_ROWS"]

CHUNK_ROWS = 100_000

S, F, B, I = pa.string(), pa.float64(), pa.bool_(), pa.int64()

#: The collected tables and their columns.
TABLES: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    # catalogue
    "products": (("product_id", S), ("title", S), ("category", S), ("brand", S), ("price", F),
                 ("n_photos", I), ("description", S), ("created_at", S), ("url", S),
                 ("image_url", S), ("shipped", B), ("gift_card", B)),
    "variants": (("variant_id", S), ("product_id", S), ("size_raw", S), ("price", F)),
    # orders and every input line of an order (merchandise or not)
    "orders": (("order_id", S), ("order_number", S), ("customer_id", S), ("ordered_at", S),
               ("currency", S), ("test", B), ("skip", S)),
    "lines": (("line_id", S), ("order_id", S), ("kind", S), ("product_id", S), ("variant_id", S),
              ("size_raw", S), ("quantity", I), ("unit_price", F), ("title", S), ("gift_card", B),
              ("shipped", B), ("ordered_at", S)),
    # goods coming back, as the platform records them (Shopify returns, PrestaShop order returns)
    "returns": (("return_id", S), ("line_id", S), ("quantity", I), ("returned_at", S),
                ("reason_code", S), ("reason_text", S), ("declined", B)),
    # money going back: one row per refunded line, and one per refund (for those without lines)
    "refund_lines": (("refund_id", S), ("order_id", S), ("line_id", S), ("quantity", I),
                     ("created_at", S), ("goods_back", B), ("return_id", S), ("amount", F),
                     ("note", S)),
    "refunds": (("refund_id", S), ("order_id", S), ("created_at", S), ("amount", F),
                ("currency", S), ("n_lines", I), ("note", S), ("return_id", S)),
    # lines added to an order later (Shopify exchange items): they are ordered when added
    "line_times": (("line_id", S), ("ordered_at", S)),
}


class _Buffer:
    def __init__(self, columns: Sequence[tuple[str, pa.DataType]]):
        self.schema = pa.schema(list(columns))
        self.names = [name for name, _ in columns]
        self.rows: list[tuple] = []
        self.chunks: list[pa.Table] = []

    def add(self, row: dict) -> None:
        self.rows.append(tuple(map(row.get, self.names)))
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows))
        self.chunks.append(pa.Table.from_arrays(
            [pa.array(values, type=field.type) for values, field in zip(columns, self.schema)],
            schema=self.schema,
        ))
        self.rows = []

    def frame(self) -> pd.DataFrame:
        self.flush()
        table = pa.concat_tables(self.chunks) if self.chunks else self.schema.empty_table()
        return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)

    def __len__(self) -> int:
        return len(self.rows) + sum(chunk.num_rows for chunk in self.chunks)


class Collector:
    """The rows found in the pages, plus what the pages were (for the report)."""

    def __init__(self) -> None:
        self._buffers = {name: _Buffer(columns) for name, columns in TABLES.items()}
        self.pages: dict[str, int] = {}
        self.files: int = 0

    def add(self, table: str, **row: object) -> None:
        self._buffers[table].add(row)

    def page(self, kind: str) -> None:
        self.pages[kind] = self.pages.get(kind, 0) + 1

    def frame(self, table: str) -> pd.DataFrame:
        return self._buffers[table].frame()

    def count(self, table: str) -> int:
        return len(self._buffers[table])
