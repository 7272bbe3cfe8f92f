"""Loading a shop's history: read, parse, check, quarantine, return the clean tables.

This is the one loader every command uses (validate, train, predict, fixes, kpis, …).

Policy
------
* Structural problems — a missing or unreadable file, a missing required column, a table with
  no rows — raise :class:`~returnrisk.data.problems.DataError` listing every problem at once;
  nothing is written.
* Row-level problems set the row aside: the clean rows are returned, and the rejected rows are
  written with their reasons to ``<quarantine_dir>/<table>.csv`` (default
  ``DIR/.returnrisk/quarantine``). With ``strict=True`` any row-level problem is an error.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.data.checks import (
    check_order_lines_against_products,
    check_returns_against_lines,
    parse_and_check_table,
)
from returnrisk.data.contract import TABLES, TableSpec
from returnrisk.data.problems import DataError, Problem
from returnrisk.data.readers import RawTable, find_table_file, read_table_file
from returnrisk.data.rejections import Rejections
from returnrisk.taxonomy import NO_REASON, group_of

__all__ = ["Shop", "TableLoad", "load_shop", "clean_shop", "default_quarantine_dir", "read_shop_tables"]

log = logging.getLogger(__name__)


@dataclass
class TableLoad:
    """What happened to one table while loading."""

    name: str
    file: str
    rows_read: int
    rows_kept: int
    problems: list[Problem] = field(default_factory=list)
    quarantine_file: Path | None = None

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - self.rows_kept


@dataclass
class Shop:
    """A shop's clean history: the three contract tables with parsed types.

    ``returns`` carries two derived columns: ``reason_source`` (``given``, ``inferred`` or
    ``none``) and ``reason_group`` (see :mod:`returnrisk.taxonomy`).
    """

    products: pd.DataFrame
    order_lines: pd.DataFrame
    returns: pd.DataFrame
    tables: dict[str, TableLoad]
    folder: Path | None = None

    @property
    def problems(self) -> list[Problem]:
        return [p for t in self.tables.values() for p in t.problems]

    def truncated(self, as_of: pd.Timestamp) -> "Shop":
        """The history as it was known just before ``as_of`` (orders and returns before it)."""
        lines = self.order_lines[self.order_lines["ordered_at"] < as_of]
        returns = self.returns[
            (self.returns["returned_at"] < as_of) & self.returns["line_id"].isin(lines["line_id"])
        ].copy()
        if "refunded_at" in returns.columns:
            returns["refunded_at"] = returns["refunded_at"].where(returns["refunded_at"] < as_of)
        return Shop(self.products, lines, returns, self.tables, self.folder)


def default_quarantine_dir(folder: Path) -> Path:
    return Path(folder) / ".returnrisk" / "quarantine"


def read_shop_tables(folder: Path) -> dict[str, RawTable]:
    """Read the three files of ``folder``; raise :class:`DataError` if any cannot be read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError([Problem(
            "-", str(folder), "missing_folder", f"data folder {folder} does not exist",
            "pass --data with the folder holding products, order_lines and returns "
            "(or run `returnrisk demo-data --out DIR` to make one)", structural=True,
        )])
    raws: dict[str, RawTable] = {}
    problems: list[Problem] = []
    for name, spec in TABLES.items():
        path = find_table_file(folder, name)
        if isinstance(path, Problem):
            problems.append(path)
            continue
        raw = read_table_file(path, name)
        if isinstance(raw, Problem):
            problems.append(raw)
            continue
        problems.extend(_structural_problems(raw, spec))
        raws[name] = raw
    if problems:
        raise DataError(problems)
    return raws


def _structural_problems(raw: RawTable, spec: TableSpec) -> list[Problem]:
    problems = []
    found = list(raw.frame.columns)
    shown = ", ".join(found[:8]) + (", …" if len(found) > 8 else "")
    for column in spec.required:
        if column not in found:
            problems.append(Problem(
                spec.name, raw.file, "missing_column",
                f"column '{column}' missing in {raw.file} (columns found: {shown or 'none'})",
                f"add a '{column}' column (or rename the column that holds it); "
                "see docs/data-contract.md",
                column=column, structural=True,
            ))
    if len(raw.frame) == 0 and not raw.malformed:
        problems.append(Problem(
            spec.name, raw.file, "empty_table", f"{raw.file} has no data rows",
            f"export the {spec.name} history with at least one row", structural=True,
        ))
    return problems


def _malformed_problem(raw: RawTable) -> Problem | None:
    if not raw.malformed:
        return None
    return Problem(
        raw.name, raw.file, "malformed_row",
        f"{len(raw.malformed)} rows do not have as many fields as the header",
        "quote values that contain commas, and check these rows for missing or extra separators",
        rows=[row for row, _ in raw.malformed[:5]],
        values=[text[:80] for _, text in raw.malformed[:5]],
        n_rows=len(raw.malformed),
    )


def _with_optional_columns(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    for column in spec.columns:
        if column.name not in frame.columns:
            if column.kind == "timestamp":
                frame[column.name] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
            elif column.kind in ("number", "integer"):
                frame[column.name] = np.nan
            elif column.kind == "boolean":
                frame[column.name] = pd.array([pd.NA] * len(frame), dtype="boolean")
            else:
                frame[column.name] = pd.Series(pd.NA, index=frame.index, dtype="string[pyarrow]")
    return frame


def _write_quarantine(
    raw: RawTable, rejections: Rejections, directory: Path
) -> Path | None:
    target = directory / f"{raw.name}.csv"
    reasons = rejections.reasons()
    if reasons.empty and not raw.malformed:
        if target.exists():
            target.unlink()
        return None
    directory.mkdir(parents=True, exist_ok=True)
    rows = raw.frame.iloc[reasons.index.to_numpy()].copy()
    rows.insert(0, "_row", rejections.row_numbers[reasons.index.to_numpy()])
    rows.insert(1, "_reason", reasons.to_numpy())
    if raw.malformed:
        extra = pd.DataFrame({
            "_row": [row for row, _ in raw.malformed],
            "_reason": ["malformed_row: wrong number of fields; raw text in _raw_text"] * len(raw.malformed),
            "_raw_text": [text for _, text in raw.malformed],
        })
        rows = pd.concat([rows, extra], ignore_index=True).sort_values("_row", kind="stable")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{raw.name}.", suffix=".csv")
    os.close(fd)
    rows.to_csv(tmp, index=False)
    os.replace(tmp, target)
    return target


def _clean_returns(returns: pd.DataFrame) -> pd.DataFrame:
    has_code = returns["reason_code"].notna()
    returns["reason_source"] = np.where(has_code, "given", "none")
    codes = returns["reason_code"].astype(object).where(has_code, NO_REASON)
    returns["reason_group"] = codes.map(group_of).astype(object)
    return returns


def load_shop(
    folder: str | Path,
    *,
    quarantine_dir: str | Path | None = None,
    strict: bool = False,
    reason_filler=None,
) -> Shop:
    """Load, check and clean a shop's history (see the module docstring for the policy).

    Parameters
    ----------
    folder:
        Folder with ``products``, ``order_lines`` and ``returns`` as ``.csv`` or ``.parquet``.
    quarantine_dir:
        Where rejected rows go (default ``folder/.returnrisk/quarantine``).
    strict:
        Treat any row-level problem as an error (nothing is written then).
    reason_filler:
        Optional callable ``returns -> returns`` that infers missing reason codes from
        ``reason_text`` (setting ``reason_code`` and ``reason_source='inferred'``).
    """
    folder = Path(folder)
    return clean_shop(read_shop_tables(folder), folder, quarantine_dir=quarantine_dir, strict=strict,
                      reason_filler=reason_filler)


def clean_shop(
    raws: dict[str, RawTable],
    folder: Path,
    *,
    quarantine_dir: str | Path | None = None,
    strict: bool = False,
    reason_filler=None,
) -> Shop:
    """Check and clean tables read by :func:`read_shop_tables` (the second half of loading)."""
    typed: dict[str, pd.DataFrame] = {}
    rejections: dict[str, Rejections] = {}
    for name, spec in TABLES.items():
        raw = raws[name]
        rejections[name] = Rejections(name, raw.file, len(raw.frame), raw.row_numbers)
        typed[name] = _with_optional_columns(
            parse_and_check_table(raw.frame, spec, rejections[name]), spec
        )

    products = typed["products"][~rejections["products"].mask]
    check_order_lines_against_products(
        typed["order_lines"], pd.Index(products["product_id"]), rejections["order_lines"]
    )
    lines = typed["order_lines"][~rejections["order_lines"].mask]
    check_returns_against_lines(typed["returns"], lines, rejections["returns"])
    returns = typed["returns"][~rejections["returns"].mask]

    tables: dict[str, TableLoad] = {}
    problems: list[Problem] = []
    for name in TABLES:
        raw = raws[name]
        table_problems = list(rejections[name].problems)
        malformed = _malformed_problem(raw)
        if malformed:
            table_problems.insert(0, malformed)
        problems.extend(table_problems)
        kept = int((~rejections[name].mask).sum())
        tables[name] = TableLoad(name, raw.file, len(raw.frame) + len(raw.malformed), kept,
                                 table_problems)
    if strict and problems:
        raise DataError(problems)
    empty = [
        Problem(name, t.file, "empty_table",
                f"no usable rows left in {t.file} after setting aside {t.rows_quarantined} bad rows",
                "fix the problems listed above", structural=True)
        for name, t in tables.items() if t.rows_kept == 0
    ]
    if empty:
        raise DataError(problems + empty)

    directory = Path(quarantine_dir) if quarantine_dir else default_quarantine_dir(folder)
    for name, table in tables.items():
        try:
            table.quarantine_file = _write_quarantine(raws[name], rejections[name], directory)
        except OSError as exc:
            raise DataError([Problem(
                name, tables[name].file, "quarantine_unwritable",
                f"cannot write the quarantine file in {directory}: {exc.strerror or exc}",
                "pass --quarantine PATH to a writable folder", structural=True,
            )]) from exc
        if table.quarantine_file:
            log.warning("%s: %d rows set aside in %s", table.file, table.rows_quarantined,
                        table.quarantine_file)

    products = products.reset_index(drop=True)
    lines = lines.reset_index(drop=True)
    price = lines["product_id"].map(products.set_index("product_id")["price"])
    lines["quantity"] = lines["quantity"].fillna(1).astype("int64")
    lines["unit_price"] = lines["unit_price"].fillna(price).astype(float)
    returns = _clean_returns(returns.reset_index(drop=True))
    if reason_filler is not None:
        returns = reason_filler(returns)
    return Shop(products, lines, returns, tables, folder)
