"""Time helpers shared by the operations modules: UTC timestamps, the end of the data, days.

Every timestamp the operations code handles is a timezone-aware UTC :class:`pandas.Timestamp`;
text is ISO 8601 and a value without offset is UTC, exactly as in the data files.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from returnrisk.data.loader import Shop

__all__ = [
    "DAY_SECONDS",
    "DEFAULT_WINDOW_DAYS",
    "to_utc",
    "parse_iso_timestamp",
    "parse_period_bound",
    "data_end",
    "default_as_of",
    "epoch_seconds",
    "days_between",
    "next_midnight",
    "iso",
]

DAY_SECONDS = 86_400.0

#: Return window (days) used when no model says otherwise (``training/params.yaml`` window_days).
DEFAULT_WINDOW_DAYS = 30


def to_utc(value) -> pd.Timestamp:
    """``value`` as an aware UTC timestamp (a naive value is taken as UTC)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_iso_timestamp(text: str, name: str | None = None) -> pd.Timestamp:
    """Parse ISO 8601 text (with or without offset and fraction; naive = UTC).

    Raises :class:`ValueError` whose message names the value (and ``name``, the option or field)
    and shows a valid example.
    """
    label = f"{name} " if name else ""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{label or 'the timestamp '}is empty: use ISO 8601, e.g. 2026-03-09T14:30:00Z")
    try:
        parsed = pd.to_datetime(text.strip(), utc=True, format="ISO8601")
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        parsed = pd.NaT
    if pd.isna(parsed):
        raise ValueError(f"{label}{text!r} is not an ISO 8601 timestamp: use e.g. 2026-03-09T14:30:00Z "
                         "(a value without offset is UTC)")
    return pd.Timestamp(parsed)


def parse_period_bound(text: str | None, name: str, *, end: bool = False) -> pd.Timestamp | None:
    """A ``--from``/``--to`` bound. A date-only ``--to`` includes that whole day."""
    if text is None or str(text).strip() == "":
        return None
    ts = parse_iso_timestamp(str(text), name)
    if end and len(str(text).strip()) == 10:  # YYYY-MM-DD: the day is included
        ts = ts + pd.Timedelta(days=1)
    return ts


def data_end(shop: Shop) -> pd.Timestamp:
    """The last event in the data: an order, a return or a refund."""
    candidates = [shop.order_lines["ordered_at"].max(), shop.returns["returned_at"].max()]
    if "refunded_at" in shop.returns.columns:
        candidates.append(shop.returns["refunded_at"].max())
    values = [to_utc(v) for v in candidates if v is not None and not pd.isna(v)]
    if not values:
        raise ValueError("the shop has no dated events")
    return max(values)


def default_as_of(shop: Shop) -> pd.Timestamp:
    """``as_of`` meaning "now, at the end of the data": one second after the last event."""
    return data_end(shop) + pd.Timedelta(seconds=1)


def epoch_seconds(values) -> np.ndarray:
    """Seconds since the epoch (float) of a timestamp, or of a series/array of them (NaT → NaN)."""
    if isinstance(values, (pd.Timestamp, datetime, str)) or np.isscalar(values):
        return np.asarray(to_utc(values).timestamp(), dtype=float)
    series = pd.Series(values, copy=False)
    if getattr(series.dtype, "tz", None) is None:
        series = pd.to_datetime(series, utc=True)
    ns = series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    out = ns.astype(float) / 1e9
    out[series.isna().to_numpy()] = np.nan
    return out


def days_between(start, end) -> np.ndarray:
    """``end - start`` in (fractional) days, element-wise (NaT gives NaN); either may be a scalar."""
    return (epoch_seconds(end) - epoch_seconds(start)) / DAY_SECONDS


def next_midnight(ts: pd.Timestamp) -> pd.Timestamp:
    """``ts`` itself if it is a UTC midnight, else the next UTC midnight."""
    ts = to_utc(ts)
    floor = ts.floor("D")
    return floor if floor == ts else floor + pd.Timedelta(days=1)


def iso(ts) -> str | None:
    """ISO 8601 text of a timestamp in UTC with a ``Z`` (``None`` for missing)."""
    if ts is None or pd.isna(ts):
        return None
    text = to_utc(ts).isoformat()
    return text.replace("+00:00", "Z")
