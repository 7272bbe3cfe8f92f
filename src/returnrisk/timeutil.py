"""Time, written once: UTC timestamps, seconds since the epoch, days, ISO 8601 text, the data's "now".

Ground floor: imports only the standard library, numpy and pandas — never another returnrisk
module — so every layer may use it.

Every timestamp returnrisk handles is a timezone-aware UTC :class:`pandas.Timestamp` (or a
``datetime64[…, UTC]`` series); text is ISO 8601 and a value without offset is UTC, exactly as
in the data files. A *cut-off* is a whole number of seconds since the epoch; a line ordered at
``t`` has the cut-off :func:`day_floor` ``(t)``, the start of its UTC day.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd

__all__ = [
    "DAY",
    "DEFAULT_WINDOW_DAYS",
    "NAT_SECONDS",
    "to_utc",
    "epoch_seconds",
    "day_floor",
    "days_between",
    "next_midnight",
    "parse_iso_timestamp",
    "parse_period_bound",
    "iso",
    "data_end",
    "default_as_of",
]

#: Seconds in a day (an ``int``: cut-off arithmetic stays in int64).
DAY = 86_400

#: The return window in days when no model says otherwise (the default of the training
#: parameter ``data.window_days``, see :class:`returnrisk.pipeline.params.TrainParams`).
DEFAULT_WINDOW_DAYS = 30

#: What :func:`epoch_seconds` gives a missing time with ``whole=True`` (numpy's NaT as int64).
NAT_SECONDS = np.iinfo(np.int64).min

_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def to_utc(value):
    """``value`` as aware UTC: a timestamp, or a series/index of them (a naive value is UTC).

    A scalar (``Timestamp``, ``datetime``, ``date``, ISO text, epoch nanoseconds) gives a
    :class:`pandas.Timestamp`; a :class:`~pandas.Series` or :class:`~pandas.DatetimeIndex` of
    datetimes gives the same kind of object, converted (aware) or localised (naive) to UTC, with
    its resolution kept. ``NaT`` stays ``NaT``.
    """
    if isinstance(value, (pd.Series, pd.DatetimeIndex)):
        if isinstance(value, pd.DatetimeIndex):
            return value.tz_localize("UTC") if value.tz is None else value.tz_convert("UTC")
        if not pd.api.types.is_datetime64_any_dtype(value.dtype):
            raise TypeError(f"to_utc needs datetimes, got a series of {value.dtype}: parse it first "
                            "(parse_iso_timestamp, or pd.to_datetime(..., utc=True, format='ISO8601'))")
        return value.dt.tz_localize("UTC") if value.dt.tz is None else value.dt.tz_convert("UTC")
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        return ts
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _is_scalar(values) -> bool:
    return values is None or isinstance(values, (pd.Timestamp, datetime, date, str, np.datetime64)) \
        or np.isscalar(values)


def epoch_seconds(values, *, whole: bool = False) -> np.ndarray:
    """Seconds since 1970-01-01 UTC of a timestamp, or of a series/index/array of them.

    ``whole=False`` (default): float64 with the fraction of a second; a missing time is NaN.
    ``whole=True``: int64 whole seconds, floored; a missing time is :data:`NAT_SECONDS`. This is
    the vectorised path of the point-in-time features (10 million lines in training): a
    zero-copy int64 view of the timestamps and one integer division, whatever their resolution
    (s, ms, µs or ns).

    A scalar gives a 0-d array (``float(…)`` or ``int(…)`` it). Naive values are UTC; text or
    objects are parsed with :func:`pandas.to_datetime` first.
    """
    if _is_scalar(values):
        ts = to_utc(values)
        if ts is pd.NaT:
            return np.asarray(NAT_SECONDS if whole else np.nan, dtype=np.int64 if whole else float)
        seconds = ts.timestamp()
        return np.asarray(math.floor(seconds), dtype=np.int64) if whole else np.asarray(seconds, dtype=float)
    series = values if isinstance(values, pd.Series) else pd.Series(values, copy=False)
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, utc=True)
    # ``.values`` of a tz-aware series are its UTC instants (no copy); naive values are UTC
    raw = np.asarray(series.values)
    unit = np.datetime_data(raw.dtype)[0]
    if unit not in _PER_SECOND:
        raw, unit = raw.astype("datetime64[ns]"), "ns"
    ticks = raw.view(np.int64)
    missing = ticks == NAT_SECONDS
    per_second = _PER_SECOND[unit]
    if whole:
        out = ticks // per_second if per_second != 1 else ticks.copy()
        if missing.any():
            out[missing] = NAT_SECONDS
        return out
    out = ticks.astype(float) / per_second if per_second != 1 else ticks.astype(float)
    out[missing] = np.nan
    return out


def day_floor(seconds) -> np.ndarray:
    """The cut-off of a time given in epoch seconds: the start of its UTC day (in seconds)."""
    return (np.asarray(seconds) // DAY) * DAY


def days_between(start, end) -> np.ndarray:
    """``end - start`` in (fractional) days, element-wise (NaT gives NaN); either may be a scalar."""
    return (epoch_seconds(end) - epoch_seconds(start)) / DAY


def next_midnight(ts) -> pd.Timestamp:
    """``ts`` itself if it is a UTC midnight, else the next UTC midnight."""
    ts = to_utc(ts)
    floor = ts.floor("D")
    return floor if floor == ts else floor + pd.Timedelta(days=1)


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


def iso(ts) -> str | None:
    """ISO 8601 text of a timestamp in UTC with a ``Z`` (``None`` for missing)."""
    if ts is None or pd.isna(ts):
        return None
    text = to_utc(ts).isoformat()
    return text.replace("+00:00", "Z")


def data_end(shop) -> pd.Timestamp:
    """The last dated event of a shop's history: an order, a return or a refund (aware UTC).

    ``shop`` is anything with ``order_lines`` (column ``ordered_at``) and ``returns``
    (``returned_at``, optionally ``refunded_at``) frames, e.g. :class:`returnrisk.data.loader.Shop`.
    Raises :class:`ValueError` when it has no dated event at all.
    """
    candidates = [shop.order_lines["ordered_at"].max()]
    returns = shop.returns
    if returns is not None and len(returns):
        candidates.append(returns["returned_at"].max())
        if "refunded_at" in returns.columns:
            candidates.append(returns["refunded_at"].max())
    values = [to_utc(v) for v in candidates if v is not None and not pd.isna(v)]
    if not values:
        raise ValueError("the shop has no dated events (no order, return or refund time)")
    return max(values)


def default_as_of(shop) -> pd.Timestamp:
    """The data's "now": one second after its last dated event — an order, a return or a refund.

    This is the ``as_of`` every command and the API use when none is given (training, fix
    suggestions, KPIs' end of data, the forecast). Every event of the files happened strictly
    before it, so "known before ``as_of``" means "in the files". A refund counts as an event
    although no feature uses it: a refund at time *r* proves the history was exported after *r*,
    so a return registered before *r* would be in the files — lines without one were then still
    kept at *r*.

    ``shop`` is duck-typed (``order_lines`` and ``returns`` frames, see :func:`data_end`).
    """
    return data_end(shop) + pd.Timedelta(seconds=1)
