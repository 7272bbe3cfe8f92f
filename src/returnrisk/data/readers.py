"""Finding and reading the contract tables (CSV or Parquet, detected by extension).

CSV is read with every column as text, so that the loader — not the reader — decides what a
value means and can quote the original text of a bad value: only an empty cell is missing here
(texts such as ``NULL`` or ``N/A`` reach the loader, which knows whether the column may be empty).
Rows with the wrong number of fields are not fatal: they are returned separately so the loader
can quarantine them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from returnrisk.data.problems import Problem

__all__ = ["RawTable", "find_table_file", "read_table_file", "SUFFIXES"]

SUFFIXES = (".csv", ".parquet")


@dataclass
class RawTable:
    name: str
    path: Path
    frame: pd.DataFrame
    #: rows that could not be split into the header's columns: (data row number, text)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    #: 1-based data row number of every row of ``frame`` (header not counted)
    row_numbers: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.row_numbers is None:
            self.row_numbers = np.arange(1, len(self.frame) + 1)

    @property
    def file(self) -> str:
        return self.path.name


def find_table_file(folder: Path, name: str) -> Path | Problem:
    """The file holding table ``name`` in ``folder``, or the problem saying why there is none."""
    candidates = [folder / f"{name}{suffix}" for suffix in SUFFIXES]
    present = [p for p in candidates if p.is_file()]
    if len(present) == 1:
        return present[0]
    if len(present) > 1:
        return Problem(
            name, present[0].name, "ambiguous_file",
            f"both {present[0].name} and {present[1].name} exist",
            f"keep only one of them in {folder}",
            structural=True,
        )
    found = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    listing = ", ".join(found[:10]) + (", …" if len(found) > 10 else "") if found else "none"
    return Problem(
        name, f"{name}.csv", "missing_file",
        f"file missing: expected {name}.csv or {name}.parquet in {folder} (files found: {listing})",
        f"export the {name} table to {folder}/{name}.csv (see docs/data-contract.md)",
        structural=True,
    )


def _read_csv(path: Path, name: str) -> RawTable:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise ValueError("the file is empty (no header line)")
    table, malformed = _arrow_csv(path, header, use_threads=True)
    if malformed:
        # row numbers of bad rows are only known when parsing in one thread
        table, malformed = _arrow_csv(path, header, use_threads=False)
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.columns = [str(c).lstrip("\ufeff").strip() for c in frame.columns]
    bad_rows = [(number - 1, text) for number, text in malformed]
    total = len(frame) + len(bad_rows)
    keep = np.ones(total, dtype=bool)
    keep[[row - 1 for row, _ in bad_rows if 0 < row <= total]] = False
    rows = np.arange(1, total + 1)[keep][: len(frame)]
    return RawTable(name, path, frame, bad_rows, rows)


def _arrow_csv(path: Path, header: list[str], use_threads: bool):
    malformed: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append((row.number or 0, row.text))
        return "skip"

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=use_threads, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={column: pa.string() for column in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    return table, malformed


def _read_parquet(path: Path, name: str) -> RawTable:
    table = pq.read_table(path)
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawTable(name, path, frame)


def read_table_file(path: Path, name: str) -> RawTable | Problem:
    """Read one table file; an unreadable file becomes a structural :class:`Problem`."""
    try:
        if path.suffix == ".parquet":
            return _read_parquet(path, name)
        return _read_csv(path, name)
    except UnicodeDecodeError as exc:
        return Problem(
            name, path.name, "unreadable_file",
            f"cannot read {path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})",
            "save the file as UTF-8 CSV (or export it as Parquet)",
            structural=True,
        )
    except (pa.ArrowException, OSError, ValueError) as exc:
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Problem(
            name, path.name, "unreadable_file",
            f"cannot read {path.name} as {kind}: {detail}",
            f"check that {path.name} is a valid {kind} file with a header row "
            "(UTF-8, comma-separated for CSV)",
            structural=True,
        )
