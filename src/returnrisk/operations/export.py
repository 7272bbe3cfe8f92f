"""Writing the stored returns in the data contract, alone or merged with a shop's returns table.

``returns.csv`` has exactly the contract's columns (:data:`returnrisk.data.contract.RETURNS`):
``line_id, returned_at, reason_code, reason_text, refunded_at, return_cost, quantity,
return_id`` — one row per return event, so a line that came back in parts is several rows
(``quantity`` empty: the whole line); timestamps are ISO 8601 UTC. ``reason_code`` holds the
code *given* by the customer or the merchant; a return recorded with text only keeps an empty
``reason_code`` and its ``reason_text``, so that loading infers the code again (with the
classifier refined on the shop) and records it as inferred — exactly like a text-only row of
the shop's own file.

With ``merge_with=DIR`` the output is a complete shop: ``returns.csv`` = the shop's returns
plus the stored ones, and the shop's products and order_lines files copied next to it —
``returnrisk train --data OUT`` then trains on every return. A stored return replaces the
shop's row of the same ``(line_id, return_id)``, and the shop's rows *without* a
``return_id`` of a line the store has returns for (the store is the record of that line's
returns, as before partial returns: one return per line); the shop's rows with another
``return_id`` are other parts of the line and are kept. Customers erased by ``returnrisk forget``
(:mod:`returnrisk.operations.personal_data`) are written without their id (``forgotten:<line_id>``)
and their returns without their words.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.data.contract import ORDER_LINES, PRODUCTS, RETURNS
from returnrisk.data.problems import DataError, Problem
from returnrisk.data.readers import find_table_file, read_table_file
from returnrisk.errors import InputError
from returnrisk.io_files import write_table
from returnrisk.operations.personal_data import anonymise_order_lines, forgotten_hashes
from returnrisk.operations.store import ReturnStore
from returnrisk.operations.webhook_orders import WebhookOrderStore
from returnrisk.timeutil import iso

__all__ = ["ExportResult", "stored_returns_table", "merge_returns", "export_returns", "RETURN_COLUMNS",
           "webhook_lines_table", "WEBHOOK_LINES_FILE"]

log = logging.getLogger(__name__)

RETURN_COLUMNS: list[str] = RETURNS.names
LINE_COLUMNS: list[str] = ORDER_LINES.names
PRODUCT_COLUMNS: list[str] = PRODUCTS.names
#: The webhook order lines when exported alone.
WEBHOOK_LINES_FILE = "webhook_order_lines.csv"


@dataclass
class ExportResult:
    path: Path
    n_stored: int
    n_written: int
    n_shop: int = 0
    n_replaced: int = 0
    copied: list[str] = field(default_factory=list)
    unknown_lines: int = 0
    malformed_shop_rows: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    webhook_lines: int = 0
    webhook_lines_added: int = 0
    webhook_lines_already_in_shop: int = 0
    products_added: int = 0
    written_files: list[str] = field(default_factory=list)
    forgotten_lines: int = 0    # order lines of forgotten customers, written without their customer id

    def to_dict(self) -> dict:
        return {"forgotten_lines": self.forgotten_lines, "path": str(self.path), "stored": self.n_stored, "written": self.n_written,
                "shop_returns": self.n_shop, "replaced": self.n_replaced, "copied": self.copied,
                "unknown_lines": self.unknown_lines, "malformed_shop_rows": self.malformed_shop_rows,
                "dropped_columns": self.dropped_columns,
                "webhook_order_lines": {"stored": self.webhook_lines, "added": self.webhook_lines_added,
                                        "already_in_shop": self.webhook_lines_already_in_shop,
                                        "products_added": self.products_added},
                "written_files": self.written_files}


def _number_text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return repr(float(value)) if not float(value).is_integer() else f"{float(value):.1f}"


def stored_returns_table(store: ReturnStore) -> pd.DataFrame:
    """The stored returns as contract rows (all values as text, empty = missing), by line, first returned first."""
    rows = [{
        "line_id": r.line_id,
        "returned_at": iso(r.returned_at),
        "reason_code": r.reason_code,
        "reason_text": r.reason_text,
        "refunded_at": iso(r.refunded_at),
        "return_cost": _number_text(r.return_cost),
        "quantity": None if r.quantity is None else str(int(r.quantity)),
        "return_id": r.return_id,
    } for r in store.iter_all()]
    return pd.DataFrame(rows, columns=RETURN_COLUMNS).astype(object)


def _as_text(column: pd.Series) -> pd.Series:
    """A raw column as contract text: timestamps ISO UTC, the rest as written."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.map(iso).astype(object)
    if pd.api.types.is_float_dtype(column.dtype):
        return column.map(_number_text).astype(object)
    return column.astype(object).where(column.notna(), None)


def _read_shop_returns(folder: Path, result: ExportResult) -> pd.DataFrame:
    path = find_table_file(folder, "returns")
    if not isinstance(path, Path):
        raise DataError([path])
    raw = read_table_file(path, "returns")
    if isinstance(raw, Problem):
        raise DataError([raw])
    frame = raw.frame
    if "line_id" not in frame.columns:
        raise InputError(f"{path}: no line_id column, so the stored returns cannot be merged: fix the shop's "
                         "returns file first (returnrisk validate --data DIR)")
    result.malformed_shop_rows = len(raw.malformed)
    if raw.malformed:
        log.warning("%s: %d malformed rows (wrong number of fields) cannot be carried into the merged table; "
                    "fix them in the shop's file (returnrisk validate --data %s lists them)",
                    path.name, len(raw.malformed), folder)
    result.dropped_columns = [c for c in frame.columns if c not in RETURN_COLUMNS]
    if result.dropped_columns:
        log.info("columns outside the contract not carried into the merged table: %s",
                 ", ".join(result.dropped_columns))
    out = pd.DataFrame({c: _as_text(frame[c]) if c in frame.columns else None for c in RETURN_COLUMNS})
    return out.astype(object)


def merge_returns(shop_returns: pd.DataFrame, stored: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The shop's rows the store does not replace (see the module docstring), then the stored rows;
    and how many shop rows were replaced."""
    lines = shop_returns["line_id"].astype(str)
    stored_lines = set(stored["line_id"].astype(str))
    shop_ids = shop_returns["return_id"] if "return_id" in shop_returns.columns else pd.Series(None, index=lines.index)
    no_id = shop_ids.isna() | (shop_ids.astype(object).fillna("").astype(str).str.strip() == "")
    pairs = set(zip(stored["line_id"].astype(str), stored["return_id"].astype(str)))
    same_pair = pd.Series([(line, str(rid)) in pairs for line, rid in zip(lines, shop_ids)], index=lines.index,
                          dtype=bool)
    replaced = (lines.isin(stored_lines) & no_id) | same_pair
    merged = pd.concat([shop_returns[~replaced.to_numpy()], stored], ignore_index=True)
    return merged[RETURN_COLUMNS], int(replaced.sum())


def _line_ids(folder: Path) -> set[str] | None:
    path = find_table_file(folder, "order_lines")
    if not isinstance(path, Path):
        return None
    raw = read_table_file(path, "order_lines")
    if isinstance(raw, Problem) or "line_id" not in raw.frame.columns:
        return None
    return set(raw.frame["line_id"].dropna().astype(str))


def webhook_lines_table(orders: WebhookOrderStore) -> pd.DataFrame:
    """The webhook order lines as contract text rows, plus ``title`` and ``brand`` (for new products)."""
    frame = orders.frame()
    out = pd.DataFrame({c: _as_text(frame[c]) for c in frame.columns})
    out["quantity"] = frame["quantity"].map(lambda q: str(int(q))).astype(object)
    return out.astype(object)


def _raw_frame(folder: Path, name: str) -> tuple[Path, pd.DataFrame]:
    path = find_table_file(folder, name)
    if not isinstance(path, Path):
        raise DataError([path])
    raw = read_table_file(path, name)
    if isinstance(raw, Problem):
        raise DataError([raw])
    return path, pd.DataFrame({c: _as_text(raw.frame[c]) for c in raw.frame.columns})


def _median_text(values: pd.Series) -> str | None:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return _number_text(float(numbers.median())) if len(numbers) else None


def _merge_webhook_lines(shop_dir: Path, out: Path, webhook: pd.DataFrame, result: ExportResult) -> list[str]:
    """Write order_lines.csv / products.csv with the new webhook lines (see the module docstring); the
    names of the tables written (the others are copied)."""
    if webhook.empty:
        return []
    _, lines = _raw_frame(shop_dir, "order_lines")
    known = set(lines["line_id"].dropna().astype(str)) if "line_id" in lines.columns else set()
    new = webhook[~webhook["line_id"].astype(str).isin(known).to_numpy()]
    result.webhook_lines_already_in_shop = int(len(webhook) - len(new))
    result.webhook_lines_added = int(len(new))
    if new.empty:
        return []
    columns = list(lines.columns) + [c for c in LINE_COLUMNS if c not in lines.columns]
    merged = pd.concat([lines.reindex(columns=columns), new.reindex(columns=columns)], ignore_index=True)
    _write_csv(merged, out, "order_lines")
    written = ["order_lines"]
    _, products = _raw_frame(shop_dir, "products")
    have = set(products["product_id"].dropna().astype(str)) if "product_id" in products.columns else set()
    missing = new[~new["product_id"].astype(str).isin(have).to_numpy()]
    if not missing.empty:
        extra = pd.DataFrame([{
            "product_id": pid, "category": "uncategorized", "price": _median_text(rows["unit_price"]),
            "title": rows["title"].dropna().iloc[0] if rows["title"].notna().any() else None,
            "brand": rows["brand"].dropna().iloc[0] if rows["brand"].notna().any() else None,
        } for pid, rows in missing.groupby("product_id", sort=True)])
        result.products_added = int(len(extra))
        columns = list(products.columns) + [c for c in ("product_id", "category", "price", "title", "brand")
                                            if c not in products.columns]
        _write_csv(pd.concat([products.reindex(columns=columns), extra.reindex(columns=columns)],
                             ignore_index=True), out, "products")
        written.append("products")
    return written


def _write_csv(frame: pd.DataFrame, out: Path, name: str) -> None:
    stale = out / f"{name}.parquet"
    if stale.exists():
        stale.unlink()
    write_table(frame.astype(object), out / f"{name}.csv")


def export_returns(store: ReturnStore, out: str | Path, *, merge_with: str | Path | None = None,
                   orders: WebhookOrderStore | None = None) -> ExportResult:
    """Write ``out/returns.csv`` and the webhook order lines (see the module docstring); return what was
    written. ``orders`` defaults to the webhook order lines of the store's database."""
    out = Path(out)
    stored = stored_returns_table(store)
    webhook = webhook_lines_table(orders or WebhookOrderStore(store.engine))
    result = ExportResult(out / "returns.csv", len(stored), len(stored), webhook_lines=len(webhook))
    if merge_with is None:
        write_table(stored, result.path)
        write_table(webhook.reindex(columns=LINE_COLUMNS).astype(object), out / WEBHOOK_LINES_FILE)
        result.written_files = ["returns.csv", WEBHOOK_LINES_FILE]
        log.info("%d stored returns written to %s, %d webhook order lines to %s", len(stored), result.path,
                 len(webhook), WEBHOOK_LINES_FILE)
        return result

    shop_dir = Path(merge_with)
    if not shop_dir.is_dir():
        raise InputError(f"--merge-with {shop_dir} does not exist: pass the shop's data folder")
    if out.resolve() == shop_dir.resolve():
        raise InputError(f"--out {out} is the shop folder itself: write the merged shop to another folder "
                         "(the shop's products and order lines are copied there), then train on it")
    shop_returns = _read_shop_returns(shop_dir, result)
    merged, replaced = merge_returns(shop_returns, stored)
    result.n_shop, result.n_replaced, result.n_written = len(shop_returns), replaced, len(merged)
    known = _line_ids(shop_dir)
    if known is not None:
        known = known | set(webhook["line_id"].astype(str))   # returns of webhook lines are exported with them
        result.unknown_lines = int((~stored["line_id"].astype(str).isin(known)).sum())
        if result.unknown_lines:
            log.warning("%d stored returns are for lines not in %s's order lines: loading will set them aside "
                        "until those order lines are exported too", result.unknown_lines, shop_dir)
    out.mkdir(parents=True, exist_ok=True)
    forgotten = forgotten_hashes(store)
    rewritten = _merge_webhook_lines(shop_dir, out, webhook, result)
    result.written_files = [f"{name}.csv" for name in rewritten] + ["returns.csv"]
    if forgotten and "order_lines" in rewritten:   # forgotten customers: not in any export
        written_lines = read_table_file(out / "order_lines.csv", "order_lines")
        if not isinstance(written_lines, Problem):
            lines, anonymised = anonymise_order_lines(written_lines.frame, forgotten)
            if anonymised:
                write_table(lines, out / "order_lines.csv")
                merged.loc[merged["line_id"].astype(str).isin(anonymised).to_numpy(), "reason_text"] = None
                result.forgotten_lines = len(anonymised)
    for name in ("products", "order_lines"):
        if name in rewritten:
            continue
        source = find_table_file(shop_dir, name)
        if not isinstance(source, Path):
            raise DataError([source])
        for stale in (out / f"{name}.csv", out / f"{name}.parquet"):
            if stale.exists() and stale.name != source.name:
                stale.unlink()
        anonymised: set[str] = set()
        if name == "order_lines" and forgotten:   # customers erased by `returnrisk forget`: not in any export
            raw = read_table_file(source, name)
            if isinstance(raw, Problem):
                raise DataError([raw])
            lines, anonymised = anonymise_order_lines(raw.frame, forgotten)
        if anonymised:
            write_table(lines, out / source.name)
            gone = merged["line_id"].astype(str).isin(anonymised).to_numpy()
            merged.loc[gone, "reason_text"] = None
            result.forgotten_lines = len(anonymised)
            log.info("%d order lines of forgotten customers written without their customer id, and their returns "
                     "without their words", len(anonymised))
        else:
            shutil.copy2(source, out / source.name)
        result.copied.append(source.name)
    stale_returns = out / "returns.parquet"
    if stale_returns.exists():
        stale_returns.unlink()
    write_table(merged, result.path)
    log.info("merged returns written to %s: %d shop rows (%d replaced by stored returns) + %d stored = %d",
             result.path, len(shop_returns), replaced, len(stored), len(merged))
    return result
