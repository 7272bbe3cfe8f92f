"""Writing the contract folder, and merging into an existing one (``--append``).

Merge rules (idempotent: importing the same pages twice leaves the folder byte-identical):

* ``products``: a product in the new pages replaces the existing row with its ``product_id``;
* ``order_lines``: an order in the new pages replaces *all* existing rows of that ``order_id``
  (a line removed from a changed order disappears, a changed line is updated);
* ``returns``: a return in the new pages replaces the existing row with the same
  ``(return_id, line_id)``; existing returns whose line is no longer in ``order_lines`` are dropped.

Tables are sorted by their keys before writing, so the same content gives the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from returnrisk.errors import InputError
from returnrisk.importers.assemble_lines import ORDER_LINE_COLUMNS, PRODUCT_COLUMNS
from returnrisk.importers.assemble_returns import RETURN_COLUMNS
from returnrisk.importers.values import isin
from returnrisk.io_files import write_table

__all__ = ["ContractTables", "write_tables", "merge_existing", "read_existing"]

COLUMNS = {"products": PRODUCT_COLUMNS, "order_lines": ORDER_LINE_COLUMNS, "returns": RETURN_COLUMNS}
TIMES = {"products": ["created_at"], "order_lines": ["ordered_at"], "returns": ["returned_at", "refunded_at"]}
STRINGS = {"products": ["product_id", "category", "brand", "description", "title", "url", "image_url"],
           "order_lines": ["line_id", "order_id", "customer_id", "product_id", "size", "order_number", "currency"],
           "returns": ["line_id", "reason_code", "reason_text", "return_id"]}
SORT = {"products": ["product_id"], "order_lines": ["ordered_at", "order_id", "line_id"],
        "returns": ["returned_at", "line_id", "return_id"]}


@dataclass
class ContractTables:
    products: pd.DataFrame
    order_lines: pd.DataFrame
    returns: pd.DataFrame

    def items(self):
        return (("products", self.products), ("order_lines", self.order_lines), ("returns", self.returns))


def _typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reindex(columns=COLUMNS[name]).copy()
    for column in STRINGS[name]:
        frame[column] = frame[column].astype("string")
    for column in TIMES[name]:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    if name == "products":
        frame["price"] = frame["price"].astype(float)
        frame["n_photos"] = frame["n_photos"].astype("Int64")
    if name == "order_lines":
        frame["quantity"] = frame["quantity"].astype("int64")
        frame["unit_price"] = frame["unit_price"].astype(float)
    if name == "returns":
        frame["quantity"] = frame["quantity"].astype("Int64")
    return frame.sort_values(SORT[name], kind="stable").reset_index(drop=True)


def read_existing(folder: Path) -> ContractTables | None:
    """The contract tables already in ``folder`` (``None`` if it holds none)."""
    found = {}
    for name in COLUMNS:
        paths = [p for p in (folder / f"{name}.parquet", folder / f"{name}.csv") if p.is_file()]
        if not paths:
            continue
        try:
            found[name] = pd.read_parquet(paths[0]) if paths[0].suffix == ".parquet" else \
                pd.read_csv(paths[0], dtype=str, keep_default_na=False, na_values=[""])
        except (OSError, ValueError) as exc:
            raise InputError(f"--append: cannot read {paths[0]} ({str(exc).splitlines()[0]}): fix or remove it, "
                             "or import without --append") from None
        missing = [c for c in COLUMNS[name][:1] if c not in found[name].columns]
        if missing:
            raise InputError(f"--append: {paths[0].name} has no '{missing[0]}' column: it is not a table "
                             "written by returnrisk import; choose another --out folder")
    if not found:
        return None
    return ContractTables(*(_typed(n, found.get(n, pd.DataFrame(columns=COLUMNS[n]))) for n in COLUMNS))


def merge_existing(old: ContractTables, new: ContractTables) -> tuple[ContractTables, dict]:
    """Merge ``new`` into ``old`` by the rules of the module docstring; also return what changed."""
    products = pd.concat([old.products[~isin(old.products["product_id"], new.products["product_id"])],
                          new.products], ignore_index=True)
    kept_lines = old.order_lines[~isin(old.order_lines["order_id"], new.order_lines["order_id"])]
    lines = pd.concat([kept_lines, new.order_lines], ignore_index=True)
    new_keys = new.returns["return_id"].fillna("") + "\x00" + new.returns["line_id"].fillna("")
    old_keys = old.returns["return_id"].fillna("") + "\x00" + old.returns["line_id"].fillna("")
    kept_returns = old.returns[~isin(old_keys, new_keys) & isin(old.returns["line_id"], lines["line_id"])]
    returns = pd.concat([kept_returns, new.returns], ignore_index=True)
    changes = {
        "rows_before": {"products": len(old.products), "order_lines": len(old.order_lines),
                        "returns": len(old.returns)},
        "order_lines_replaced": int(len(old.order_lines) - len(kept_lines)),
        "returns_replaced_or_dropped": int(len(old.returns) - len(kept_returns)),
        "products_replaced": int(len(old.products) - (products.shape[0] - len(new.products))),
    }
    merged = ContractTables(_typed("products", products), _typed("order_lines", lines), _typed("returns", returns))
    changes["rows_after"] = {name: len(frame) for name, frame in merged.items()}
    return merged, changes


def write_tables(tables: ContractTables, folder: Path, file_format: str) -> dict[str, str]:
    """Write the three tables as ``NAME.<format>`` (removing a same-named table of the other format)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    other = "csv" if file_format == "parquet" else "parquet"
    for name, frame in tables.items():
        path = write_table(_typed(name, frame), folder / f"{name}.{file_format}")
        (folder / f"{name}.{other}").unlink(missing_ok=True)
        written[name] = path.name
    return written
