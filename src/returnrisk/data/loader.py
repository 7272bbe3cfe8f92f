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
import pyarrow.compute as pc

from returnrisk.data.checks import (
    check_order_lines_against_products,
    check_returns_against_lines,
    parse_and_check_table,
)
from returnrisk.data.contract import TABLES, TableSpec
from returnrisk.data.merchandise import MerchandiseReport, non_merchandise_products
from returnrisk.data.parsing import arrow_strings
from returnrisk.data.problems import DataError, Problem
from returnrisk.data.readers import RawTable, find_table_file, read_table_file
from returnrisk.data.rejections import Rejections
from returnrisk.taxonomy import NO_REASON, group_of

__all__ = ["Shop", "TableLoad", "load_shop", "clean_shop", "default_quarantine_dir", "read_shop_tables",
           "returns_per_line", "line_returns", "with_line_defaults", "write_quarantine", "empty_tables"]

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
    #: problems whose rows are kept (placeholder texts read as empty, late returns…)
    warnings: list[Problem] = field(default_factory=list)
    #: rows of pseudo-products that are not merchandise (postage, fees…): set aside, not bad
    rows_excluded: int = 0

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - self.rows_kept - self.rows_excluded


@dataclass
class Shop:
    """A shop's clean history: the three contract tables with parsed types.

    ``returns`` has **one row per returned line** (a line is returned when any of its units is):
    its first return's date, refund and id, the first reason given, ``quantity`` = the units
    returned in all its parts, ``return_cost`` = the sum of the parts' costs, ``n_parts`` = how
    many returns brought it back; plus two derived columns: ``reason_source`` (``given``,
    ``inferred`` or ``none``) and ``reason_group`` (see :mod:`returnrisk.taxonomy`).
    ``return_events`` has the returns as recorded (one row per return of a line, ``quantity``
    filled in), for what counts parcels or units. ``merchandise`` reports the pseudo-products
    (postage, fees…) whose lines were set aside (:mod:`returnrisk.data.merchandise`).
    """

    products: pd.DataFrame
    order_lines: pd.DataFrame
    returns: pd.DataFrame
    tables: dict[str, TableLoad]
    folder: Path | None = None
    return_events: pd.DataFrame | None = None
    merchandise: MerchandiseReport = field(default_factory=MerchandiseReport)

    def __post_init__(self) -> None:
        if self.return_events is None:
            self.return_events = self.returns

    @property
    def problems(self) -> list[Problem]:
        return [p for t in self.tables.values() for p in t.problems]

    @property
    def warnings(self) -> list[Problem]:
        """Problems found while loading that set nothing aside."""
        return [p for t in self.tables.values() for p in t.warnings]

    def truncated(self, as_of: pd.Timestamp) -> "Shop":
        """The history as it was known just before ``as_of`` (orders and returns before it)."""
        lines = self.order_lines[self.order_lines["ordered_at"] < as_of]

        def known(table: pd.DataFrame) -> pd.DataFrame:
            out = table[(table["returned_at"] < as_of) & table["line_id"].isin(lines["line_id"])].copy()
            if "refunded_at" in out.columns:
                out["refunded_at"] = out["refunded_at"].where(out["refunded_at"] < as_of)
            return out

        returns = known(self.returns)
        events = returns if self.return_events is self.returns else known(self.return_events)
        if events is not returns and "n_parts" in returns.columns and (returns["n_parts"] > 1).any():
            # some lines came back in parts: their units, costs and reasons as known at as_of
            derived = [c for c in ("reason_source", "reason_group") if c in self.returns.columns]
            first = returns.set_index("line_id")
            returns = returns_per_line(events)
            for column in derived:  # the line's reason as in the full history
                returns[column] = returns["line_id"].map(first[column]).to_numpy()
        return Shop(self.products, lines, returns, self.tables, self.folder, events, self.merchandise)


def default_quarantine_dir(folder: Path) -> Path:
    return Path(folder) / ".returnrisk" / "quarantine"


def read_shop_tables(folder: Path) -> dict[str, RawTable]:
    """Read the three files of ``folder``; raise :class:`DataError` if any cannot be read."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError([Problem(
            "-", str(folder), "not_a_folder", f"--data {folder} is a file, not a folder",
            "pass --data with the folder holding products, order_lines and returns "
            f"(e.g. --data {folder.parent})", structural=True,
        )])
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


def _separator_problem(raw: RawTable, spec: TableSpec) -> Problem | None:
    """A CSV whose header is one field holding ``;`` or tabs: written with another separator."""
    found = [str(c) for c in raw.frame.columns]
    if raw.path.suffix != ".csv" or len(found) != 1:
        return None
    for separator, word in ((";", "semicolon"), ("\t", "tab")):
        parts = [p.strip() for p in found[0].split(separator)]
        if len(parts) > 1:
            known = [p for p in parts if p in spec.names]
            shown = found[0] if len(found[0]) <= 60 else found[0][:60] + "…"
            return Problem(
                spec.name, raw.file, "wrong_separator",
                f"{raw.file} looks {word}-separated: its header is one field {shown!r}"
                + (f" holding {len(known)} contract columns" if known else ""),
                "save the file as CSV with commas as separators (in a spreadsheet: CSV UTF-8, comma "
                "delimited), or export it as Parquet; see docs/data-contract.md",
                structural=True,
            )
    return None


def _structural_problems(raw: RawTable, spec: TableSpec) -> list[Problem]:
    problems = []
    found = [str(c) for c in raw.frame.columns]
    separator = _separator_problem(raw, spec)
    if separator is not None:
        return [separator]
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(found, start=1):
        seen.setdefault(name, []).append(position)
    for name, places in seen.items():
        if len(places) > 1:
            problems.append(Problem(
                spec.name, raw.file, "duplicate_column",
                f"column '{name}' appears {len(places)} times in the header of {raw.file} "
                f"(columns {', '.join(map(str, places[:-1]))} and {places[-1]})",
                f"keep one '{name}' column: rename or delete the others", column=name, structural=True,
            ))
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


def returns_per_line(events: pd.DataFrame) -> pd.DataFrame:
    """One row per returned line from the returns as recorded (see :class:`Shop`).

    The line's row is its first return (date order, then file order) — date, refund, id — with
    the first reason given (code or text) among its parts, ``quantity`` and ``return_cost``
    summed over the parts and ``n_parts`` their number.
    """
    if pc.count_distinct(arrow_strings(events["line_id"])).as_py() == len(events):  # one return per line
        out = events.copy()
        out["n_parts"] = np.ones(len(out), dtype=np.int64)
        return out
    events = events.reset_index(drop=True)
    line_codes, _ = pd.factorize(events["line_id"])
    when = events["returned_at"].to_numpy(dtype="datetime64[ns]").astype("int64")
    ordered = events.iloc[np.lexsort((np.arange(len(events)), when, line_codes))].reset_index(drop=True)
    codes = line_codes[np.lexsort((np.arange(len(events)), when, line_codes))]
    first = np.r_[True, codes[1:] != codes[:-1]]
    out = ordered[first].reset_index(drop=True)
    starts = np.flatnonzero(first)
    out["quantity"] = np.add.reduceat(ordered["quantity"].to_numpy(dtype=float), starts)
    cost = ordered["return_cost"].to_numpy(dtype=float, na_value=np.nan)
    cost_sum = np.add.reduceat(np.nan_to_num(cost), starts)
    cost_any = np.add.reduceat((~np.isnan(cost)).astype(np.int64), starts) > 0
    out["return_cost"] = np.where(cost_any, cost_sum, np.nan)
    out["n_parts"] = np.diff(np.r_[starts, len(ordered)])
    has_reason = (ordered["reason_code"].notna() | ordered["reason_text"].notna()).to_numpy()
    if has_reason.any():
        # the first part with a reason, per line: its code and text (a line without any keeps none)
        with_reason = np.flatnonzero(has_reason)
        line_of = np.cumsum(first) - 1
        chosen = pd.Series(with_reason).groupby(line_of[with_reason]).first()
        for column in ("reason_code", "reason_text"):
            values = out[column].copy()
            values.iloc[chosen.index.to_numpy()] = ordered[column].iloc[chosen.to_numpy()].to_numpy()
            out[column] = values
    return out


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
    merchandise_flags=None,
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
    merchandise_flags:
        Optional ``product_id → kind`` of the products the shop's platform says are not
        merchandise (see :func:`returnrisk.data.merchandise.non_merchandise_products`).
    """
    folder = Path(folder)
    return clean_shop(read_shop_tables(folder), folder, quarantine_dir=quarantine_dir, strict=strict,
                      reason_filler=reason_filler, merchandise_flags=merchandise_flags)


def clean_shop(
    raws: dict[str, RawTable],
    folder: Path,
    *,
    quarantine_dir: str | Path | None = None,
    strict: bool = False,
    reason_filler=None,
    merchandise_flags=None,
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
    # pseudo-products (postage, fees…) are known products whose lines are set aside, not rejected
    other = non_merchandise_products(products, merchandise_flags)
    excluded = {name: np.zeros(len(typed[name]), dtype=bool) for name in TABLES}
    if len(other):
        excluded["products"] = typed["products"]["product_id"].isin(other["product_id"]).to_numpy() \
            & ~rejections["products"].mask
        excluded["order_lines"] = typed["order_lines"]["product_id"].isin(other["product_id"]).to_numpy() \
            & ~rejections["order_lines"].mask
        products = typed["products"][~rejections["products"].mask & ~excluded["products"]]
    lines = typed["order_lines"][~rejections["order_lines"].mask]
    check_returns_against_lines(typed["returns"], lines, rejections["returns"])
    if len(other):
        other_lines = typed["order_lines"]["line_id"][excluded["order_lines"]]
        excluded["returns"] = typed["returns"]["line_id"].isin(other_lines).to_numpy() & ~rejections["returns"].mask
        lines = typed["order_lines"][~rejections["order_lines"].mask & ~excluded["order_lines"]]
    returns = typed["returns"][~rejections["returns"].mask & ~excluded["returns"]]
    merchandise = MerchandiseReport(other)
    if len(other):
        merchandise.lines = int(excluded["order_lines"].sum())
        merchandise.units = float(typed["order_lines"]["quantity"][excluded["order_lines"]].fillna(1).sum())
        merchandise.returns = int(excluded["returns"].sum())

    tables: dict[str, TableLoad] = {}
    problems: list[Problem] = []
    for name in TABLES:
        raw = raws[name]
        table_problems = list(rejections[name].problems)
        malformed = _malformed_problem(raw)
        if malformed:
            table_problems.insert(0, malformed)
        problems.extend(table_problems)
        kept = int((~rejections[name].mask & ~excluded[name]).sum())
        tables[name] = TableLoad(name, raw.file, len(raw.frame) + len(raw.malformed), kept,
                                 table_problems, warnings=list(rejections[name].warnings),
                                 rows_excluded=int(excluded[name].sum()))
    if strict and problems:
        raise DataError(problems)
    empty = empty_tables(tables)
    if empty:
        raise DataError(problems + empty)

    directory = Path(quarantine_dir) if quarantine_dir else default_quarantine_dir(folder)
    for name, table in tables.items():
        table.quarantine_file = write_quarantine(raws[name], rejections[name], directory, table)

    products = products.reset_index(drop=True)
    lines = with_line_defaults(lines.reset_index(drop=True), products.set_index("product_id")["price"])
    returns, events = line_returns(returns)
    if reason_filler is not None:
        returns = reason_filler(returns)
    return Shop(products, lines, returns, tables, folder, events, merchandise)


def empty_tables(tables: dict[str, TableLoad]) -> list[Problem]:
    """A structural problem for each table left without a usable row."""
    return [
        Problem(name, t.file, "empty_table",
                f"no usable rows left in {t.file} after setting aside {t.rows_quarantined} bad rows",
                "fix the problems listed above", structural=True)
        for name, t in tables.items() if t.rows_kept == 0
    ]


def write_quarantine(raw: RawTable, rejections: Rejections, directory: Path, table: TableLoad) -> Path | None:
    """Write the rows of ``raw`` set aside (with their reasons) to ``directory/<raw.name>.csv``.

    No row set aside: no file (a stale one is removed). A folder that cannot be written is a
    structural :class:`DataError`. Used per table here and per part by the cluster's loader.
    """
    try:
        target = _write_quarantine(raw, rejections, directory)
    except OSError as exc:
        raise DataError([Problem(
            table.name, table.file, "quarantine_unwritable",
            f"cannot write the quarantine file in {directory}: {exc.strerror or exc}",
            "pass --quarantine PATH to a writable folder", structural=True,
        )]) from exc
    if target:
        log.warning("%s: %d rows set aside in %s", table.file, table.rows_quarantined, target)
    return target


def with_line_defaults(lines: pd.DataFrame, prices: pd.Series) -> pd.DataFrame:
    """Clean order lines with their defaults filled in: ``quantity`` 1, ``unit_price`` the product's
    price (``prices``: price by ``product_id``)."""
    price = lines["product_id"].map(prices)
    lines["quantity"] = lines["quantity"].fillna(1).astype("int64")
    lines["unit_price"] = lines["unit_price"].fillna(price).astype(float)
    return lines


def line_returns(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Clean returns as recorded → ``(returns, return_events)`` of :class:`Shop`.

    ``events`` must hold *every* return of its lines (``quantity`` filled in by the checks:
    default, the whole line). ``return_events`` is ``None`` when each line came back once (the
    events are then the line returns).
    """
    events = events.reset_index(drop=True)
    events["quantity"] = events["quantity"].astype("int64")
    returns = returns_per_line(events)
    return _clean_returns(returns), (None if len(returns) == len(events) else events)
