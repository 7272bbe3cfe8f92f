"""Platform timestamps → UTC, in bulk.

Texts with an offset (``2024-03-01T10:00:00+01:00``, ``…Z``) are converted to UTC; texts
without one (PrestaShop's ``date_add``, WooCommerce's site-time dates) are read in the shop's
time zone (:attr:`ImportSettings.timezone`). PrestaShop's empty date ``0000-00-00 00:00:00`` and
unreadable texts become missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from returnrisk.timeutil import to_utc

__all__ = ["parse_times"]

_OFFSET = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"


def parse_times(text: pd.Series, timezone: str = "UTC") -> pd.Series:
    """UTC timestamps of ``text`` (``NaT`` where missing or unreadable)."""
    values = text.astype("string[pyarrow]").str.strip()
    empty = values.str.startswith("0000-00-00").fillna(True).to_numpy(dtype=bool) | (values == "").fillna(True).to_numpy(dtype=bool)
    values = values.mask(empty)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    present = values.notna().to_numpy()
    with_offset = values.str.contains(_OFFSET, regex=True).fillna(False).to_numpy(dtype=bool) & present
    if with_offset.any():
        out[with_offset] = _ns(pd.to_datetime(values[with_offset], utc=True, format="ISO8601", errors="coerce"))
    naive = present & ~with_offset
    if naive.any():
        parsed = pd.to_datetime(values[naive], format="ISO8601", errors="coerce")
        parsed = parsed.where(((parsed.dt.year > 1677) & (parsed.dt.year < 2262)).fillna(False))
        if timezone.upper() != "UTC":   # the shop's local time (naive = UTC is to_utc's own rule)
            parsed = parsed.dt.tz_localize(timezone, ambiguous=np.zeros(int(naive.sum()), dtype=bool),
                                           nonexistent="shift_forward")
        out[naive] = _ns(to_utc(parsed))
    return out


def _ns(parsed: pd.Series) -> pd.Series:
    """Nanosecond UTC timestamps; dates outside pandas' nanosecond range (year 9999…) are missing."""
    years = parsed.dt.year
    inside = (years > 1677) & (years < 2262)
    return to_utc(parsed.where(inside.fillna(False))).astype("datetime64[ns, UTC]")
