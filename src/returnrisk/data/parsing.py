"""Turning the text (or Parquet) values of a contract column into typed values.

Each parser returns the typed series and a mask of the values that were present but could not
be understood, so that the loader can quote them and set their rows aside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.data.contract import ColumnSpec
from returnrisk.timeutil import to_utc

__all__ = ["parse_column", "parse_timestamps", "TRUE_WORDS", "FALSE_WORDS", "missing_mask"]

TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y", "oui", "vrai", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "0", "no", "n", "non", "faux", "0.0"})


def missing_mask(raw: pd.Series) -> np.ndarray:
    """Values that are absent: null, or text that is empty after trimming spaces."""
    mask = raw.isna().to_numpy().copy()
    if raw.dtype == object or isinstance(raw.dtype, pd.StringDtype):
        text = raw.astype("string[pyarrow]")
        mask |= (text.str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return mask


def parse_timestamps(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO 8601 text, with or without offset and fraction; naive values are UTC."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return to_utc(raw).astype("datetime64[ns, UTC]"), np.zeros(len(raw), bool)
    text = raw.astype("string[pyarrow]").str.strip()
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy() & ~missing_mask(raw)
    return parsed.astype("datetime64[ns, UTC]"), bad


def _parse_number(raw: pd.Series, integer: bool) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype(float)
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        values = pd.Series(raw.to_numpy(dtype=float, na_value=np.nan), index=raw.index)
    else:
        text = raw.astype("string[pyarrow]").str.strip()
        values = pd.to_numeric(text, errors="coerce").astype(float)
    bad = values.isna().to_numpy() & ~missing_mask(raw)
    bad |= ~np.isfinite(values.to_numpy()) & ~values.isna().to_numpy()
    if integer:
        arr = values.to_numpy()
        frac = np.isfinite(arr) & (np.floor(arr) != arr)
        bad |= frac
    values = values.where(~pd.Series(bad, index=values.index))
    return values, bad


def _parse_boolean(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean"), np.zeros(len(raw), bool)
    text = raw.astype("string[pyarrow]").str.strip().str.lower()
    is_true = text.isin(TRUE_WORDS).fillna(False).to_numpy(dtype=bool)
    is_false = text.isin(FALSE_WORDS).fillna(False).to_numpy(dtype=bool)
    missing = missing_mask(raw)
    bad = ~(is_true | is_false | missing)
    values = pd.array(np.where(is_true, True, False), dtype="boolean")
    values[~(is_true | is_false)] = pd.NA
    return pd.Series(values, index=raw.index), bad


def _parse_string(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    text = raw.astype("string[pyarrow]").str.strip()
    text = text.mask(text == "")
    return text, np.zeros(len(raw), bool)


def parse_column(raw: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, np.ndarray]:
    """Parse one column by its contract kind; returns ``(values, bad_mask)``."""
    if spec.kind == "timestamp":
        return parse_timestamps(raw)
    if spec.kind in ("number", "integer"):
        return _parse_number(raw, integer=spec.kind == "integer")
    if spec.kind == "boolean":
        return _parse_boolean(raw)
    return _parse_string(raw)
