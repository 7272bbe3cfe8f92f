"""returnrisk.timeutil: UTC, epoch seconds, days, ISO text and the one default as-of, used everywhere."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from returnrisk.timeutil import (
    DAY,
    NAT_SECONDS,
    data_end,
    day_floor,
    days_between,
    default_as_of,
    epoch_seconds,
    iso,
    next_midnight,
    parse_iso_timestamp,
    parse_period_bound,
    to_utc,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "returnrisk"


# ---- to_utc ------------------------------------------------------------------------------------
def test_to_utc_takes_naive_values_as_utc_and_converts_aware_ones():
    assert to_utc("2026-03-09 14:30") == pd.Timestamp("2026-03-09T14:30Z")
    assert str(to_utc("2026-03-09 14:30").tz) == "UTC"
    paris = pd.Timestamp("2026-03-09 15:30", tz="Europe/Paris")
    assert to_utc(paris) == pd.Timestamp("2026-03-09T14:30Z") and str(to_utc(paris).tz) == "UTC"
    assert to_utc(datetime(2026, 3, 9, 14, 30, tzinfo=timezone(timedelta(hours=-5)))).hour == 19
    assert to_utc(None) is pd.NaT and to_utc(pd.NaT) is pd.NaT


def test_to_utc_on_series_and_index_keeps_resolution_and_missing_values():
    naive = pd.Series(pd.to_datetime(["2026-01-01 10:00", None])).astype("datetime64[s]")
    out = to_utc(naive)
    assert str(out.dtype) == "datetime64[s, UTC]" and out.iloc[0] == pd.Timestamp("2026-01-01T10:00Z")
    assert pd.isna(out.iloc[1])
    tokyo = pd.DatetimeIndex(["2026-01-01 09:00"], tz="Asia/Tokyo")
    assert to_utc(tokyo)[0] == pd.Timestamp("2026-01-01T00:00Z") and str(to_utc(tokyo).tz) == "UTC"
    with pytest.raises(TypeError, match="needs datetimes, got a series of"):
        to_utc(pd.Series(["2026-01-01"]))


# ---- epoch_seconds ------------------------------------------------------------------------------
def test_epoch_seconds_of_scalars():
    assert float(epoch_seconds("1970-01-02T00:00:01.5Z")) == 86_401.5
    assert int(epoch_seconds("1970-01-02T00:00:01.5Z", whole=True)) == 86_401
    assert epoch_seconds(pd.Timestamp("2026-03-09T14:30Z"), whole=True).dtype == np.int64
    assert float(epoch_seconds(pd.Timestamp("2026-03-09 15:30", tz="Europe/Paris"))) == \
        pd.Timestamp("2026-03-09T14:30Z").timestamp()
    assert int(epoch_seconds("1969-12-31T23:59:59.5Z", whole=True)) == -1   # floored, like day_floor
    assert np.isnan(epoch_seconds(pd.NaT)) and int(epoch_seconds(None, whole=True)) == NAT_SECONDS


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_seconds_of_series_in_every_resolution_with_missing_values(unit):
    values = pd.Series(pd.to_datetime(["2026-03-09T14:30:15.250Z", None, "1970-01-01T00:00:00Z"], utc=True,
                                      format="ISO8601"))
    values = values.astype(f"datetime64[{unit}, UTC]")
    whole = epoch_seconds(values, whole=True)
    assert whole.dtype == np.int64
    assert whole[0] == 1_773_066_615 and whole[1] == NAT_SECONDS and whole[2] == 0
    exact = epoch_seconds(values)
    assert exact.dtype == np.float64 and np.isnan(exact[1]) and exact[2] == 0.0
    assert exact[0] == pytest.approx(1_773_066_615.25 if unit != "s" else 1_773_066_615.0, abs=1e-6)


def test_epoch_seconds_of_naive_other_zones_indexes_arrays_and_text_agree():
    aware = pd.Series(pd.to_datetime(["2026-03-09T14:30Z", "2026-07-01T00:00Z"], utc=True))
    expected = np.array([1_773_066_600, 1_782_864_000])
    for values in (aware, aware.dt.tz_convert("America/New_York"), aware.dt.tz_localize(None),
                   pd.DatetimeIndex(aware), aware.to_numpy(dtype="datetime64[ns]"),
                   ["2026-03-09T14:30Z", "2026-07-01T00:00Z"]):
        assert np.array_equal(epoch_seconds(values, whole=True), expected)
        assert np.array_equal(epoch_seconds(values), expected.astype(float))


def test_epoch_seconds_is_exactly_what_the_features_computed_before():
    """The training hot path: identical int64 seconds to the former astype('datetime64[s, UTC]')."""
    rng = np.random.default_rng(0)
    ns = 1_700_000_000 * 10**9 + rng.integers(0, 60 * 86_400 * 10**9, 50_000)
    values = pd.Series(pd.to_datetime(ns, utc=True))
    values.iloc[[3, 17]] = pd.NaT
    former = values.astype("datetime64[s, UTC]").astype("int64").to_numpy()
    assert np.array_equal(epoch_seconds(values, whole=True), former)
    former_float = values.astype("int64").to_numpy().astype(float) / 1e9
    former_float[values.isna().to_numpy()] = np.nan
    assert np.array_equal(epoch_seconds(values), former_float, equal_nan=True)


def test_days_day_floor_and_next_midnight():
    assert DAY == 86_400 and isinstance(DAY, int)
    assert day_floor(np.array([86_399, 86_400, 100_000])).tolist() == [0, 86_400, 86_400]
    starts = pd.Series(pd.to_datetime(["2026-03-01", None], utc=True))
    got = days_between(starts, pd.Timestamp("2026-03-03T12:00Z"))
    assert got[0] == 2.5 and np.isnan(got[1])
    assert next_midnight("2026-03-09T00:00Z") == pd.Timestamp("2026-03-09T00:00Z")
    assert next_midnight("2026-03-09T00:00:01Z") == pd.Timestamp("2026-03-10T00:00Z")


def test_iso_parse_and_period_bounds():
    assert iso(pd.Timestamp("2026-03-09 15:30", tz="Europe/Paris")) == "2026-03-09T14:30:00Z"
    assert iso(None) is None and iso(pd.NaT) is None
    assert parse_iso_timestamp("2026-03-09T15:30+01:00") == pd.Timestamp("2026-03-09T14:30Z")
    with pytest.raises(ValueError, match=r"--as-of 'March' is not an ISO 8601 timestamp"):
        parse_iso_timestamp("March", "--as-of")
    with pytest.raises(ValueError, match="is empty"):
        parse_iso_timestamp("  ")
    assert parse_period_bound("2026-03-09", "--to", end=True) == pd.Timestamp("2026-03-10T00:00Z")
    assert parse_period_bound("2026-03-09T12:00", "--to", end=True) == pd.Timestamp("2026-03-09T12:00Z")
    assert parse_period_bound(None, "--from") is None


# ---- default_as_of ------------------------------------------------------------------------------
def _shop(ordered, returned=(), refunded=None):
    lines = pd.DataFrame({"ordered_at": pd.to_datetime(list(ordered), utc=True)})
    returns = pd.DataFrame({"returned_at": pd.to_datetime(list(returned), utc=True)})
    if refunded is not None:
        returns["refunded_at"] = pd.to_datetime(list(refunded), utc=True)
    return SimpleNamespace(order_lines=lines, returns=returns)   # duck-typed: no data.loader.Shop needed


def test_default_as_of_is_one_second_after_the_last_order_return_or_refund():
    shop = _shop(["2026-03-01T10:00Z", "2026-03-02T09:00Z"], ["2026-03-03T08:00Z", "2026-03-04T08:00Z"],
                 ["2026-03-05T17:00Z", None])
    assert data_end(shop) == pd.Timestamp("2026-03-05T17:00Z")          # the refund is the last event
    assert default_as_of(shop) == pd.Timestamp("2026-03-05T17:00:01Z")
    no_refund_column = _shop(["2026-03-01T10:00Z"], ["2026-03-03T08:00Z"])
    assert default_as_of(no_refund_column) == pd.Timestamp("2026-03-03T08:00:01Z")
    no_returns = _shop(["2026-03-01T10:00Z", "2026-02-01T10:00Z"])
    assert default_as_of(no_returns) == pd.Timestamp("2026-03-01T10:00:01Z")
    assert str(default_as_of(no_returns).tz) == "UTC"
    with pytest.raises(ValueError, match="no dated events"):
        default_as_of(_shop([None]))


def test_every_default_as_of_is_the_same_one(tmp_path):
    """Training frame, fix suggestions' history, training run and forecast all use default_as_of."""
    from returnrisk.data.loader import load_shop
    from returnrisk.demo.generator import generate_demo_shop
    from returnrisk.features.build import build_training_frame
    from returnrisk.fixes.counts import ReasonHistory

    generate_demo_shop(tmp_path / "shop", n_lines=4000, seed=5)
    shop = load_shop(tmp_path / "shop")
    # make a refund the very last event: the as-of must move with it
    returns = shop.returns.copy()
    last = max(shop.order_lines["ordered_at"].max(), returns["returned_at"].max())
    returns.loc[returns.index[0], "refunded_at"] = last + pd.Timedelta(hours=5)
    shop.returns = returns
    expected = last + pd.Timedelta(hours=5, seconds=1)
    assert default_as_of(shop) == expected
    assert build_training_frame(shop).as_of == expected
    assert ReasonHistory(shop).as_of == expected


def test_time_is_written_once_in_the_package():
    """No other module normalises to UTC, defines a day in seconds or an as-of of its own."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "timeutil.py" and path.parent == SRC:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r'tz_localize\("UTC"\)', r'tz_convert\("UTC"\)', r"\b86_?400\b", r"def default_as_of",
                        r"def to_seconds", r"def epoch_seconds", r"DAY_SECONDS"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(SRC)}: {pattern}")
    assert not offenders, offenders
    assert not (SRC / "operations" / "timeutil.py").exists()
    imports = re.findall(r"^(?:from|import) (\S+)", (SRC / "timeutil.py").read_text(), flags=re.M)
    assert set(imports) <= {"__future__", "math", "datetime", "numpy", "pandas"}, imports
