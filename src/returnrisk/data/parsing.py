"""Turning the text (or Parquet) values of a contract column into typed values.

Each parser returns the typed series and a mask of the values that were present but could not
be understood, so that the loader can quote them and set their rows aside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from returnrisk.data.contract import ColumnSpec
from returnrisk.timeutil import to_utc

__all__ = [
    "ParsedColumn",
    "parse_column",
    "parse_column_detailed",
    "parse_timestamps",
    "placeholder_mask",
    "arrow_strings",
    "TRUE_WORDS",
    "FALSE_WORDS",
    "PLACEHOLDER_WORDS",
    "TIMESTAMP_MIN",
    "TIMESTAMP_MAX",
    "INTEGER_MAX",
    "missing_mask",
]

TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y", "oui", "vrai", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "0", "no", "n", "non", "faux", "0.0"})

#: Texts that spreadsheets, databases and pandas write for "no value" (matched exactly, in lower,
#: upper or title case, and ``NaN``): in an id, number or required column they are bad values,
#: elsewhere they are read as empty and reported.
PLACEHOLDER_WORDS = ("nan", "-nan", "n/a", "#n/a", "#n/a n/a", "#na", "na", "null", "none", "nil",
                     "-1.#ind", "1.#ind", "-1.#qnan", "1.#qnan", "#value!", "#ref!", "#div/0!")
_PLACEHOLDERS = pa.array(sorted({v for w in PLACEHOLDER_WORDS for v in (w, w.upper(), w.title())}
                                 | {"NaN", "-NaN", "N/a", "#N/a"}))

#: Timestamps outside this range cannot be held (nanosecond precision): set aside, never a crash.
TIMESTAMP_MIN = pd.Timestamp("1677-09-22", tz="UTC")
TIMESTAMP_MAX = pd.Timestamp("2262-04-11", tz="UTC")

#: Whole numbers above this are not exact in floating point (2**53): set aside as too large.
INTEGER_MAX = float(2 ** 53)


@dataclass
class ParsedColumn:
    """Typed values, the mask of values present but not understood, and why (rule → mask)."""

    values: pd.Series
    bad: np.ndarray
    reasons: dict[str, np.ndarray] = field(default_factory=dict)


def placeholder_mask(raw: pd.Series) -> np.ndarray:
    """Values that are a placeholder text for "no value" (``NULL``, ``N/A``, ``NaN``…), exactly."""
    if not (raw.dtype == object or isinstance(raw.dtype, pd.StringDtype)):
        return np.zeros(len(raw), dtype=bool)
    array = arrow_strings(raw)
    found = pc.fill_null(pc.is_in(array, value_set=_PLACEHOLDERS.cast(array.type)), False)
    return found.to_numpy(zero_copy_only=False) if isinstance(found, pa.Array) \
        else np.asarray(found.combine_chunks().to_numpy(zero_copy_only=False))


def arrow_strings(values: pd.Series):
    """The values as an Arrow string array (no copy for an Arrow-backed string column)."""
    array = values.array if isinstance(values.dtype, pd.StringDtype) else values.astype("string[pyarrow]").array
    native = getattr(array, "_pa_array", None)
    return native if native is not None else pa.array(array)


def missing_mask(raw: pd.Series) -> np.ndarray:
    """Values that are absent: null, or text that is empty after trimming spaces."""
    mask = raw.isna().to_numpy().copy()
    if raw.dtype == object or isinstance(raw.dtype, pd.StringDtype):
        text = raw.astype("string[pyarrow]")
        mask |= (text.str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return mask


def _timestamps(raw: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """(UTC nanosecond values, unparseable mask, out-of-range mask)."""
    n = len(raw)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        parsed, unparseable = to_utc(raw), np.zeros(n, bool)
    else:
        text = raw.astype("string[pyarrow]").str.strip()
        try:
            parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        except (OverflowError, pd.errors.OutOfBoundsDatetime):  # older pandas: nanoseconds only
            parsed = pd.Series([_one_timestamp(v) for v in text], index=raw.index, dtype="datetime64[us, UTC]")
        unparseable = parsed.isna().to_numpy() & ~missing_mask(raw)
        if unparseable.any():
            # a column parsed at nanosecond resolution (some value has nanoseconds) turns year 9999 into
            # NaT: parse the failures again on their own, at the resolution they need, to tell why
            again = pd.to_datetime(text[unparseable], utc=True, format="ISO8601", errors="coerce")
            far = again.notna().to_numpy()
            if far.any():
                rows = np.flatnonzero(unparseable)[far]
                out_of_range = np.zeros(n, dtype=bool)
                out_of_range[rows] = True
                return parsed.astype("datetime64[ns, UTC]"), unparseable & ~out_of_range, out_of_range
    # compare at the parsed resolution (microseconds for text): years 0001 or 9999 fit there, not in ns
    outside = ((parsed < TIMESTAMP_MIN) | (parsed >= TIMESTAMP_MAX)).fillna(False).to_numpy(dtype=bool)
    if outside.any():
        parsed = parsed.where(~outside)
    return parsed.astype("datetime64[ns, UTC]"), unparseable, outside


def _one_timestamp(value):
    try:
        return to_utc(value) if pd.notna(value) else pd.NaT
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


def parse_timestamps(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO 8601 text, with or without offset and fraction; naive values are UTC.

    Values outside the range a timestamp can hold (:data:`TIMESTAMP_MIN` … :data:`TIMESTAMP_MAX`,
    e.g. year 9999 or 0001) are bad values like unparseable text.
    """
    values, unparseable, outside = _timestamps(raw)
    return values, unparseable | outside


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
    parsed = parse_column_detailed(raw, spec)
    return parsed.values, parsed.bad


def parse_column_detailed(raw: pd.Series, spec: ColumnSpec) -> ParsedColumn:
    """Parse one column by its contract kind, saying why each bad value is bad.

    ``reasons`` holds ``out_of_range`` (timestamps outside what can be held) and ``too_large``
    (whole numbers above :data:`INTEGER_MAX`); the other bad values are of the wrong type.
    """
    if spec.kind == "timestamp":
        values, unparseable, outside = _timestamps(raw)
        return ParsedColumn(values, unparseable | outside, {"out_of_range": outside})
    if spec.kind in ("number", "integer"):
        values, bad = _parse_number(raw, integer=spec.kind == "integer")
        if spec.kind != "integer":
            return ParsedColumn(values, bad)
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        too_large = np.abs(np.nan_to_num(numbers)) > INTEGER_MAX
        if too_large.any():
            values = values.where(~too_large)
        return ParsedColumn(values, bad | too_large, {"too_large": too_large})
    if spec.kind == "boolean":
        return ParsedColumn(*_parse_boolean(raw))
    return ParsedColumn(*_parse_string(raw))
