"""Reading and writing user-supplied tables (CSV or Parquet, chosen by extension), atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from returnrisk.errors import InputError

__all__ = ["read_table", "write_table", "SUPPORTED"]

SUPPORTED = (".csv", ".parquet")


def read_table(path: str | Path, *, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV (all columns as text) or Parquet file; check ``required`` columns are present."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED:
        raise InputError(f"{path.name}: unsupported file type {path.suffix or '(none)'!r}: use .csv or .parquet")
    if not path.is_file():
        raise InputError(f"{path} does not exist: check the path")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read {path.name}: {str(exc).splitlines()[0]} "
                         "(expected UTF-8 CSV with a header row, or Parquet)") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, list(frame.columns)[:8])) + (", …" if frame.shape[1] > 8 else "")
        raise InputError(f"column '{missing[0]}' missing in {path.name} (columns found: {found or 'none'})")
    return frame


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` (.csv or .parquet) via a temporary file, so no half file remains."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED:
        raise InputError(f"{path.name}: unsupported output type {path.suffix or '(none)'!r}: use .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
