"""Returns KPIs: rates, reasons, delays, refunds against the promise, costs, weekly volumes.

Definitions (all computed from the shop's clean tables; see docs/operations.md)
-------------------------------------------------------------------------------
Cohort metrics are about the **lines ordered** in the period ``[start, end)`` (or in a group of
them: order week or month, category, brand, product, reason):

``return_rate_lines``
    returned lines / ordered lines (a line is returned when any of its units is);
``return_rate_units``
    returned units / ordered units (a return brings back its ``quantity`` units, the whole line by
    default; a line may come back in several parts); **outlier lines** (a quantity far above the
    shop's usual ones, :mod:`returnrisk.data.outliers`) are left out of this rate and of the value
    rate, and counted in ``outlier_lines`` / ``outlier_units``;
``return_rate_value``
    returned value / ordered value, value = ``quantity × unit_price``;
``reason_mix``
    share of the returns per reason code (``unknown`` when neither given nor inferable);
``days_to_return``
    median and 90th percentile of days from order to return;
``days_to_refund``
    median and 90th percentile of days from return to refund (refunded returns);
``refund_within_target``
    on-time refunds / returns whose refund is decided: a return refunded within
    ``refund_target_days`` is on time; one refunded later, *or still not refunded more than
    ``refund_target_days`` after it came back*, is late (pending returns still within the
    target are left out — they can still be on time). Ignoring the overdue pending returns
    would flatter the figure. Without any refund date in the data the refund figures are ``None``
    (``refund_data`` false): nothing is known, which is not "0 % on time";
``return_cost``
    per return as recorded (a part of a partial return is a return): the data's ``return_cost``,
    else ``return_cost_per_return`` per parcel (a ``return_id`` covering several lines is one
    parcel, its cost split between them) + ``return_cost_per_unit`` × returned units (opt-in,
    default 0); ``return_cost_per_return`` is the cost over the returns (``return_events``) and
    the share estimated is reported.

**Currencies.** Amounts are summed per currency (``order_lines.currency``), never across
currencies: with several, the money figures of a group are ``None`` and given per currency in
``by_currency``; rates of units and lines are unaffected.

**Provisional.** A line ordered less than ``window_days`` before the end of the data can still
come back, so a group holding such lines is ``provisional``: its rates are the rates *observed
so far* and are shown next to

* ``expected_final_rate_*`` — what has come back so far (every line), plus for each line still
  in its window and not returned yet its chance to still come back, ``p·(1 − F(e)) / (1 −
  p·F(e))`` after ``e`` days without a return (``p`` the model's P(return), ``F`` the delay
  distribution; ``p`` itself when the delays cannot be learnt), × its units: the model's prior
  updated with the returns seen so far. It is **never below the rate observed**.
  ``projected_final_rate_*`` is the same figure (its former name);
* ``model_prior_rate_*`` — the model's prior alone: returned units of the lines whose window is
  closed plus ``p`` × units of the lines still in their window (for a period entirely in its
  window, the mean of the model's P(return)). It ignores what already came back, so it can be
  below the observed rate — which is why it is not the expected final rate.

Without a model they are ``None`` and the report says so; the period is still provisional.

Volumes per week are about **events**: lines ordered, returns received, refunds issued and the
costs of the returns received in each week (Monday to Sunday, UTC); a week cut by the start or
the end of the data or of the period is marked ``partial``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from returnrisk.config import DEFAULT_ECONOMICS
from returnrisk.data.loader import Shop
from returnrisk.data.outliers import outlier_mask, outlier_threshold
from returnrisk.model.bundle import ServingBundle
from returnrisk.operations.delays import DelayDistribution
from returnrisk.scoring.batch import score_frame
from returnrisk.taxonomy import NO_REASON, REASON_CODES, RETURN_GROUPS, group_of
from returnrisk.timeutil import DEFAULT_WINDOW_DAYS, data_end, days_between, default_as_of, iso, to_utc

__all__ = ["GROUPINGS", "KpiReport", "compute_kpis", "line_outcomes"]

log = logging.getLogger(__name__)

#: Accepted values of ``by``.
GROUPINGS: tuple[str, ...] = ("week", "month", "category", "brand", "product", "reason")


@dataclass
class KpiReport:
    """KPIs of a period, overall and per group; :meth:`to_dict` is the JSON of CLI and API."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    data_end: pd.Timestamp
    by: str | None
    window_days: int
    refund_target_days: float
    return_cost_per_unit: float
    model: dict
    overall: dict
    groups: list[dict] = field(default_factory=list)
    volumes: list[dict] = field(default_factory=list)
    return_cost_per_return: float = 12.0
    refund_data: bool = True
    currencies: list[str] = field(default_factory=list)
    outliers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "from": iso(self.start), "to": iso(self.end), "data_end": iso(self.data_end), "by": self.by,
            "window_days": self.window_days, "refund_target_days": self.refund_target_days,
            "return_cost_per_return": self.return_cost_per_return,
            "return_cost_per_unit": self.return_cost_per_unit, "refund_data": self.refund_data,
            "currencies": self.currencies, "outliers": self.outliers, "model": self.model,
            "overall": self.overall, "groups": self.groups, "volumes_per_week": self.volumes,
        }


def _round(value, digits: int = 4):
    if value is None:
        return None
    value = float(value)
    return None if not np.isfinite(value) else round(value, digits)


def _week_start(ts: pd.Series) -> pd.Series:
    day = to_utc(ts).dt.floor("D")
    return day - pd.to_timedelta(day.dt.dayofweek, unit="D")


def _take(column: pd.Series, position: np.ndarray) -> pd.Series:
    """``column`` at ``position`` (``-1`` → missing), without converting values one by one."""
    return pd.Series(column.array.take(position, allow_fill=True))


def _event_costs(shop: Shop, return_cost_per_return: float, return_cost_per_unit: float) -> pd.DataFrame:
    """Per return as recorded: its line, units, cost (given or estimated) and whether it was estimated.

    An estimated cost is ``return_cost_per_return`` per parcel — a ``return_id`` shared by several
    lines is one parcel, its cost split between them — plus ``return_cost_per_unit`` per unit.
    """
    events = shop.return_events
    if "quantity" in events.columns:
        units = events["quantity"].to_numpy(dtype=float)
    else:  # returns built without the loader: each returns its whole line
        ordered = shop.order_lines.set_index(shop.order_lines["line_id"].astype(str))["quantity"]
        units = events["line_id"].astype(str).map(ordered).fillna(1).to_numpy(dtype=float)
    if "return_id" in events.columns and events["return_id"].notna().any():
        ids = events["return_id"].astype(object)
        parcel = ids.map(ids.value_counts()).fillna(1).to_numpy(dtype=float)
    else:
        parcel = np.ones(len(events))
    given = events["return_cost"].to_numpy(dtype=float, na_value=np.nan) if "return_cost" in events.columns \
        else np.full(len(events), np.nan)
    estimated = np.isnan(given)
    cost = np.where(estimated, return_cost_per_return / parcel + return_cost_per_unit * units, given)
    return pd.DataFrame({"line_id": events["line_id"].astype(str).to_numpy(), "units": units, "cost": cost,
                         "estimated": estimated.astype(float), "events": 1.0,
                         "returned_at": events["returned_at"].to_numpy()})


def line_outcomes(shop: Shop, *, end_of_data: pd.Timestamp, window_days: int, refund_target_days: float,
                  return_cost_per_return: float = 12.0, return_cost_per_unit: float = 0.0) -> pd.DataFrame:
    """One row per order line with what happened to it (the input of every KPI).

    ``returned_units`` are the units that came back (all the parts of a partial return, at most the
    line's quantity); ``outlier`` marks lines left out of the units- and value-weighted rates
    (:mod:`returnrisk.data.outliers`); ``cost`` sums the line's returns (see :func:`_event_costs`).
    """
    lines = shop.order_lines.reset_index(drop=True)
    products = shop.products.drop_duplicates("product_id")
    product_pos = pd.Index(products["product_id"].astype(str)).get_indexer(lines["product_id"].astype(str))
    returns = shop.returns.drop_duplicates("line_id").reset_index(drop=True)
    line_ids = lines["line_id"].astype(str)
    pos = pd.Index(returns["line_id"].astype(str)).get_indexer(line_ids)
    quantity = lines["quantity"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "line_id": line_ids,
        "product_id": lines["product_id"].astype(str),
        "ordered_at": lines["ordered_at"],
        "quantity": quantity,
        "unit_price": lines["unit_price"].to_numpy(dtype=float),
        "value": (lines["quantity"] * lines["unit_price"]).to_numpy(dtype=float),
    })
    currency = lines["currency"] if "currency" in lines.columns else pd.Series([None] * len(lines))
    out["currency"] = currency.astype(object).where(currency.notna(), None).to_numpy()
    out["category"] = _take(products["category"].astype(object), product_pos).fillna("(none)").to_numpy()
    brand = products["brand"] if "brand" in products.columns else pd.Series([None] * len(products))
    out["brand"] = _take(brand.astype(object), product_pos).fillna("(none)").to_numpy()
    out["returned"] = pos >= 0
    out["returned_at"] = _take(returns["returned_at"], pos)
    returned_units = _take(returns["quantity"].astype(float), pos).to_numpy(dtype=float, na_value=np.nan) \
        if "quantity" in returns.columns else np.where(pos >= 0, quantity, np.nan)
    returned_units = np.where(np.isnan(returned_units), quantity, returned_units)
    out["returned_units"] = np.where(out["returned"], np.minimum(returned_units, quantity), 0.0)
    out["returned_value"] = out["returned_units"] * out["unit_price"]
    out["outlier"] = outlier_mask(quantity)
    codes = _take(returns["reason_code"].astype(object), pos)
    out["reason"] = np.where(out["returned"], codes.where(codes.notna(), NO_REASON), None)
    if "refunded_at" in returns.columns:
        out["refunded_at"] = _take(returns["refunded_at"], pos)
    else:
        out["refunded_at"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    events = _event_costs(shop, return_cost_per_return, return_cost_per_unit)
    per_line = events.groupby("line_id", sort=False)[["cost", "estimated", "events"]].sum()
    event_pos = per_line.index.get_indexer(line_ids)
    found = event_pos >= 0
    take = np.maximum(event_pos, 0)
    out["cost"] = np.where(found, per_line["cost"].to_numpy()[take], np.nan)
    out["cost_estimated"] = np.where(found, per_line["estimated"].to_numpy()[take], 0.0)
    out["return_events"] = np.where(found, per_line["events"].to_numpy()[take], 0.0)
    out["days_to_return"] = days_between(out["ordered_at"], out["returned_at"])
    out["days_to_refund"] = days_between(out["returned_at"], out["refunded_at"])
    waiting = days_between(out["returned_at"], end_of_data)
    refunded_mask = out["refunded_at"].notna().to_numpy()
    on_time = refunded_mask & (out["days_to_refund"].to_numpy() <= refund_target_days)
    late = (refunded_mask & ~on_time) | (out["returned"].to_numpy() & ~refunded_mask & (waiting > refund_target_days))
    out["refund_on_time"] = on_time
    out["refund_late"] = late
    out["refund_pending"] = out["returned"].to_numpy() & ~refunded_mask
    out["age_days"] = days_between(out["ordered_at"], end_of_data)
    out["open_window"] = out["age_days"].to_numpy() < window_days
    return out


def _model_columns(frame: pd.DataFrame, lines: pd.DataFrame, bundle: ServingBundle | None,
                   delays: DelayDistribution | None) -> pd.DataFrame:
    """Add ``p_return``, ``p_<group>`` and ``p_remaining`` for the lines still in their window.

    ``p_remaining`` is the chance that a line still in its window and not returned yet comes back:
    ``p·(1 − F(e)) / (1 − p·F(e))`` with the delay distribution ``F`` (``p`` itself without one).
    """
    frame["p_return"] = np.nan
    frame["p_remaining"] = np.nan
    for g in RETURN_GROUPS:
        frame[f"p_{g}"] = np.nan
    open_rows = np.flatnonzero(frame["open_window"].to_numpy())
    if bundle is None or open_rows.size == 0:
        return frame
    scores = score_frame(bundle, lines.iloc[open_rows].reset_index(drop=True))
    p = scores["p_return"].to_numpy(dtype=float)
    frame.iloc[open_rows, frame.columns.get_loc("p_return")] = p
    for g in RETURN_GROUPS:
        frame.iloc[open_rows, frame.columns.get_loc(f"p_{g}")] = scores[f"p_{g}"].to_numpy(dtype=float)
    remaining = p
    if delays is not None:
        elapsed = delays.cdf_at(frame["age_days"].to_numpy()[open_rows])
        remaining = p * (1.0 - elapsed) / np.clip(1.0 - p * elapsed, 1e-9, None)
    returned = frame["returned"].to_numpy()[open_rows]
    frame.iloc[open_rows, frame.columns.get_loc("p_remaining")] = np.where(returned, 0.0, remaining)
    return frame


_FINAL_KEYS = ("expected_final_rate_units", "expected_final_rate_value",
               "projected_final_rate_units", "projected_final_rate_value",
               "model_prior_rate_units", "model_prior_rate_value")
_MONEY_KEYS = ("value", "returned_value", "return_rate_value", "return_cost", "return_cost_per_return",
               "expected_final_rate_value", "projected_final_rate_value", "model_prior_rate_value")


def _sums(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-line quantities every statistic sums (outlier lines count 0 in the weighted rates)."""
    ret = frame["returned"].to_numpy()
    open_window = frame["open_window"].to_numpy()
    weight = ~frame["outlier"].to_numpy()
    q, v = frame["quantity"].to_numpy(), frame["value"].to_numpy()
    ru, rv = frame["returned_units"].to_numpy(), frame["returned_value"].to_numpy()
    qw, vw, ruw, rvw = q * weight, v * weight, ru * weight, rv * weight
    closed_ret = ret & ~open_window
    p = np.nan_to_num(frame["p_return"].to_numpy(dtype=float))
    remaining = np.nan_to_num(frame["p_remaining"].to_numpy(dtype=float))
    return pd.DataFrame({
        "lines": np.ones(len(frame)), "units": q, "value": v, "returns": ret.astype(float),
        "events": frame["return_events"].to_numpy(dtype=float),
        "ret_units": ru, "ret_value": rv, "w_units": qw, "w_value": vw, "w_ret_units": ruw, "w_ret_value": rvw,
        "outlier_lines": (~weight).astype(float), "outlier_units": q * ~weight,
        "refunds": (ret & frame["refunded_at"].notna().to_numpy()).astype(float),
        "pending": frame["refund_pending"].to_numpy(dtype=float),
        "on_time": frame["refund_on_time"].to_numpy(dtype=float), "late": frame["refund_late"].to_numpy(dtype=float),
        "cost": np.nan_to_num(frame["cost"].to_numpy(dtype=float)),
        "cost_est": frame["cost_estimated"].to_numpy(dtype=float),
        "open_units": q * open_window, "open_lines": open_window.astype(float),
        "prior_units": ruw * closed_ret + p * qw * open_window, "prior_value": rvw * closed_ret + p * vw * open_window,
        "final_units": ruw + remaining * qw * open_window, "final_value": rvw + remaining * vw * open_window,
    })


def _ratio(num, den):
    return _round(num / den) if den else None


def _money(row) -> dict:
    """The money figures of one group (one currency)."""
    n_events = row["events"]
    return {"value": _round(row["value"], 2), "returned_value": _round(row["ret_value"], 2),
            "return_rate_value": _ratio(row["w_ret_value"], row["w_value"]),
            "return_cost": _round(row["cost"], 2),
            "return_cost_per_return": _round(row["cost"] / n_events, 2) if n_events else None}


def _aggregate(frame: pd.DataFrame, keys: np.ndarray, *, model: bool, refund_data: bool = True,
               currencies: list | None = None) -> dict[str, dict]:
    """The cohort metrics of every key (one groupby per statistic, no loop over lines).

    Units- and value-weighted rates leave outlier lines out; ``return_rate_lines`` counts every
    line. With several currencies the money figures are ``None`` at the top level and given per
    currency in ``by_currency`` (amounts are never added across currencies).
    """
    cols = _sums(frame)
    sums = cols.groupby(keys, sort=True).sum()
    by_currency: dict = {}
    if currencies and len(currencies) > 1:
        money = cols[["value", "ret_value", "w_value", "w_ret_value", "cost", "events"]]
        per = money.groupby([keys, frame["currency"].fillna("(none)").to_numpy()], sort=True).sum()
        for (key, currency), row in per.iterrows():
            by_currency.setdefault(key, {})[str(currency)] = _money(row)
    ret = frame["returned"].to_numpy()
    returned = frame[ret]
    rkeys = keys[ret]
    quant = {}
    for name in ("days_to_return", "days_to_refund"):
        grouped = returned[name].groupby(rkeys)
        quant[name] = (grouped.quantile(0.5), grouped.quantile(0.9), grouped.count())
    mix = pd.crosstab(rkeys, returned["reason"].to_numpy(), normalize="index") if len(returned) else pd.DataFrame()
    out = {}
    for key, row in sums.iterrows():
        units, w_units, w_value = row["units"], row["w_units"], row["w_value"]
        n_ret, n_events = int(row["returns"]), int(row["events"])
        decided = row["on_time"] + row["late"]
        delays = {}
        for name, (median, p90, count) in quant.items():
            n = int(count.get(key, 0))
            delays[name] = {"median": _round(median.get(key), 2) if n else None,
                            "p90": _round(p90.get(key), 2) if n else None, "n": n}
        shares = mix.loc[key] if key in mix.index else pd.Series(dtype=float)
        shares = shares[shares > 0].sort_values(ascending=False, kind="stable")
        provisional = bool(row["open_lines"] > 0)
        entry = {
            "lines": int(row["lines"]), "units": float(units), "value": _round(row["value"], 2),
            "returns": n_ret, "return_events": n_events,
            "returned_units": float(row["ret_units"]), "returned_value": _round(row["ret_value"], 2),
            "return_rate_lines": _ratio(row["returns"], row["lines"]),
            "return_rate_units": _ratio(row["w_ret_units"], w_units),
            "return_rate_value": _ratio(row["w_ret_value"], w_value),
            "outlier_lines": int(row["outlier_lines"]), "outlier_units": float(row["outlier_units"]),
            "reason_mix": {str(k): _round(x) for k, x in shares.items()},
            "days_to_return": delays["days_to_return"], "days_to_refund": delays["days_to_refund"],
            "refunds": int(row["refunds"]), "refunds_pending": int(row["pending"]),
            "refund_within_target": _ratio(row["on_time"], decided),
            "refunds_late": int(row["late"]),
            "return_cost": _round(row["cost"], 2),
            "return_cost_per_return": _round(row["cost"] / n_events, 2) if n_events else None,
            "return_cost_estimated_share": _round(row["cost_est"] / n_events) if n_events else None,
            "provisional": provisional,
            "open_window_units_share": _ratio(row["open_units"], units),
            **dict.fromkeys(_FINAL_KEYS),
        }
        if not refund_data:  # no refund date anywhere: nothing is known about refunds, not "0 % on time"
            entry.update({"refund_within_target": None, "refunds_late": None, "refunds_pending": None,
                          "days_to_refund": {"median": None, "p90": None, "n": 0}})
        if provisional and model:
            entry["model_prior_rate_units"] = _ratio(row["prior_units"], w_units)
            entry["model_prior_rate_value"] = _ratio(row["prior_value"], w_value)
            entry["expected_final_rate_units"] = _ratio(row["final_units"], w_units)
            entry["expected_final_rate_value"] = _ratio(row["final_value"], w_value)
            entry["projected_final_rate_units"] = entry["expected_final_rate_units"]
            entry["projected_final_rate_value"] = entry["expected_final_rate_value"]
        if by_currency:
            for name in _MONEY_KEYS:
                entry[name] = None
            entry["by_currency"] = by_currency.get(key, {})
        out[key] = entry
    return out


def _group_keys(frame: pd.DataFrame, by: str) -> tuple[pd.Series, dict]:
    if by in ("week", "month"):
        start = _week_start(frame["ordered_at"]) if by == "week" else \
            to_utc(frame["ordered_at"]).dt.tz_localize(None).dt.to_period("M").dt.start_time
        codes, uniques = pd.factorize(start)
        labels = np.array([f"{u:%G-W%V}" if by == "week" else f"{u:%Y-%m}" for u in uniques], dtype=object)
        return pd.Series(labels[codes], index=frame.index), dict(zip(labels, uniques))
    column = {"category": "category", "brand": "brand", "product": "product_id"}[by]
    return frame[column].astype(str), {}


def _code_shares_within_group(frame: pd.DataFrame) -> dict[str, float]:
    """Each code's share of its reason group among the returns of closed windows (for by=reason)."""
    closed = frame[frame["returned"] & ~frame["open_window"]]
    if closed.empty:
        closed = frame[frame["returned"]]
    counts = closed["reason"].value_counts()
    shares = {}
    for code in list(REASON_CODES) + [NO_REASON]:
        group = group_of(code if code != NO_REASON else None)
        members = [c for c in counts.index if group_of(c if c != NO_REASON else None) == group]
        total = counts[members].sum() if members else 0
        shares[code] = float(counts.get(code, 0) / total) if total else (1.0 if code == group else 0.0)
    return shares


def _by_reason(frame: pd.DataFrame, *, model: bool, refund_data: bool = True, currencies: list | None = None
               ) -> list[dict]:
    """One group per reason code of the returns; rates are over all the period's units and value.

    A provisional period's expected final rate of a code: the units already returned with that
    code plus, for each line still in its window and not returned yet, its remaining chance to
    come back × its reason group's share of its probability × the code's share of its group.
    """
    weight = ~frame["outlier"].to_numpy()
    units = float((frame["quantity"].to_numpy() * weight).sum())
    value = float((frame["value"].to_numpy() * weight).sum())
    ret = frame["returned"].to_numpy()
    if not ret.any():
        return []
    keys = np.where(ret, frame["reason"].astype(object).to_numpy(), None)
    stats = _aggregate(frame[ret], keys[ret], model=False, refund_data=refund_data, currencies=currencies)
    open_window = frame["open_window"].to_numpy()
    provisional = bool(open_window.any())
    shares = _code_shares_within_group(frame) if model and provisional else {}
    q, v = frame["quantity"].to_numpy() * weight, frame["value"].to_numpy() * weight
    ru, rv = frame["returned_units"].to_numpy() * weight, frame["returned_value"].to_numpy() * weight
    p = np.nan_to_num(frame["p_return"].to_numpy(dtype=float))
    remaining = np.nan_to_num(frame["p_remaining"].to_numpy(dtype=float))
    groups = []
    for code, entry in stats.items():
        entry = dict(entry)
        entry.pop("reason_mix")
        entry["key"] = str(code)
        entry["share_of_returns"] = _round(entry["returns"] / ret.sum())
        mine = keys == code
        entry["return_rate_lines"] = _round(mine.sum() / len(frame)) if len(frame) else None
        entry["return_rate_units"] = _round(ru[mine].sum() / units) if units else None
        entry["return_rate_value"] = _round(rv[mine].sum() / value) if value else None
        if currencies and len(currencies) > 1:
            entry["return_rate_value"] = None
        entry["provisional"] = provisional
        entry["open_window_units_share"] = _round(frame["quantity"].to_numpy()[open_window].sum()
                                                  / frame["quantity"].sum()) if frame["quantity"].sum() else None
        for name in _FINAL_KEYS:
            entry[name] = None
        if shares:
            group = group_of(code if code != NO_REASON else None)
            split = np.nan_to_num(frame[f"p_{group}"].to_numpy(dtype=float)) * shares.get(str(code), 0.0)
            share_of_p = np.where(p > 0, split / np.where(p > 0, p, 1.0), 0.0)
            closed = mine & ~open_window
            later = remaining * share_of_p * open_window
            if units:
                entry["model_prior_rate_units"] = _round((ru[closed].sum() + (split * q)[open_window].sum()) / units)
                entry["expected_final_rate_units"] = _round((ru[mine].sum() + (later * q).sum()) / units)
                entry["projected_final_rate_units"] = entry["expected_final_rate_units"]
            if value and not (currencies and len(currencies) > 1):
                entry["model_prior_rate_value"] = _round((rv[closed].sum() + (split * v)[open_window].sum()) / value)
                entry["expected_final_rate_value"] = _round((rv[mine].sum() + (later * v).sum()) / value)
                entry["projected_final_rate_value"] = entry["expected_final_rate_value"]
        groups.append(entry)
    groups.sort(key=lambda e: (-e["returns"], e["key"]))
    return groups


def _volumes(shop: Shop, start, end, events: pd.DataFrame, end_of_data: pd.Timestamp,
             currencies: list | None = None) -> list[dict]:
    """Weekly events: lines ordered, returns received (each part of a partial return), refunds, costs."""
    lines = shop.order_lines
    returns = shop.returns
    start_of_data = lines["ordered_at"].min()

    def within(ts: pd.Series) -> np.ndarray:
        mask = ts.notna()
        if start is not None:
            mask &= ts >= start
        if end is not None:
            mask &= ts < end
        return mask.to_numpy(dtype=bool)

    ordered = lines[within(lines["ordered_at"])]
    received = events[within(events["returned_at"])]
    refunded = returns[within(returns["refunded_at"])] if "refunded_at" in returns.columns else returns.iloc[:0]
    parts = {
        "lines_ordered": ordered.groupby(_week_start(ordered["ordered_at"])).size(),
        "units_ordered": ordered.groupby(_week_start(ordered["ordered_at"]))["quantity"].sum(),
        "value_ordered": (ordered["quantity"] * ordered["unit_price"]).groupby(_week_start(ordered["ordered_at"])).sum(),
        "returns_received": received.groupby(_week_start(received["returned_at"])).size(),
        "units_returned": received.groupby(_week_start(received["returned_at"]))["units"].sum(),
        "refunds_issued": refunded.groupby(_week_start(refunded["refunded_at"])).size(),
        "return_cost": received["cost"].groupby(_week_start(received["returned_at"])).sum(),
    }
    table = pd.DataFrame(parts).fillna(0.0).sort_index()
    multi = bool(currencies and len(currencies) > 1)
    out = []
    for week, row in table.iterrows():
        week_end = week + pd.Timedelta(days=7)
        partial = bool(week_end > end_of_data or week < start_of_data or (start is not None and week < start)
                       or (end is not None and week_end > end))
        out.append({
            "week": f"{week:%G-W%V}", "week_start": f"{week:%Y-%m-%d}", "partial": partial,
            "lines_ordered": int(row["lines_ordered"]), "units_ordered": float(row["units_ordered"]),
            "value_ordered": None if multi else _round(row["value_ordered"], 2),
            "returns_received": int(row["returns_received"]),
            "units_returned": float(row["units_returned"]), "refunds_issued": int(row["refunds_issued"]),
            "return_cost": None if multi else _round(row["return_cost"], 2),
        })
    return out


def compute_kpis(
    shop: Shop,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    by: str | None = None,
    bundle: ServingBundle | None = None,
    model_info: dict | None = None,
    window_days: int | None = None,
    refund_target_days: float = DEFAULT_ECONOMICS.refund_target_days,
    return_cost_per_return: float = DEFAULT_ECONOMICS.return_cost_per_return,
    return_cost_per_unit: float = DEFAULT_ECONOMICS.return_cost_per_unit,
    limit: int | None = None,
) -> KpiReport:
    """KPIs of the lines ordered in ``[start, end)`` (see the module docstring for definitions).

    ``bundle`` (optional) gives the expected final rates of provisional groups and its
    ``snapshot.window_days`` the return window (else ``window_days``, default
    :data:`~returnrisk.timeutil.DEFAULT_WINDOW_DAYS`); the money and refund settings default to
    :data:`~returnrisk.config.DEFAULT_ECONOMICS`. ``return_cost_per_return`` (a parcel) and ``return_cost_per_unit`` (opt-in) estimate the cost
    of the returns without ``return_cost``. ``limit`` keeps the largest groups (by units) of a
    category/brand/product breakdown.
    """
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by {by!r} is not a grouping: use one of {', '.join(GROUPINGS)}")
    start = to_utc(start) if start is not None else None
    end = to_utc(end) if end is not None else None
    if start is not None and end is not None and end <= start:
        raise ValueError(f"the period is empty: to ({iso(end)}) must be after from ({iso(start)})")
    if bundle is not None:
        window = int(bundle.snapshot.window_days)
    else:
        window = int(window_days or DEFAULT_WINDOW_DAYS)
    end_of_data = data_end(shop)
    frame = line_outcomes(shop, end_of_data=end_of_data, window_days=window, refund_target_days=refund_target_days,
                          return_cost_per_return=return_cost_per_return, return_cost_per_unit=return_cost_per_unit)
    refund_data = "refunded_at" in shop.returns.columns and bool(shop.returns["refunded_at"].notna().any())
    currencies = sorted(str(c) for c in pd.unique(frame["currency"].dropna())) if frame["currency"].notna().any() \
        else []
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= (frame["ordered_at"] >= start).to_numpy()
    if end is not None:
        mask &= (frame["ordered_at"] < end).to_numpy()
    lines = shop.order_lines.reset_index(drop=True)[mask].reset_index(drop=True)
    frame = frame[mask].reset_index(drop=True)

    model = bundle is not None
    delays = None
    if model and frame["open_window"].any():
        try:
            delays = DelayDistribution.learn(shop.order_lines, shop.returns, default_as_of(shop), window)
        except ValueError as exc:
            log.warning("expected final rates without the delay distribution (lines not returned yet count their "
                        "full probability): %s", exc)
    frame = _model_columns(frame, lines, bundle, delays)
    if model:
        model_block = {"available": True, **(model_info or {}), "as_of": bundle.meta.get("as_of")}
    else:
        model_block = {"available": False, **(model_info or {})}
        model_block.setdefault("note", "no model available: groups whose return window is still open are marked "
                                       "provisional and show only the rate observed so far, which will rise as "
                                       "late returns arrive; train a model (returnrisk train) for expected final rates")

    overall = _aggregate(frame, np.zeros(len(frame), dtype=np.int64), model=model, refund_data=refund_data,
                         currencies=currencies).get(0) \
        if len(frame) else {"lines": 0, "units": 0.0, "returns": 0, "provisional": False}
    groups: list[dict] = []
    if by == "reason" and len(frame):
        groups = _by_reason(frame, model=model, refund_data=refund_data, currencies=currencies)
    elif by is not None and len(frame):
        keys, starts = _group_keys(frame, by)
        for key, metrics in _aggregate(frame, keys.to_numpy(), model=model, refund_data=refund_data,
                                       currencies=currencies).items():
            entry = {"key": str(key), **metrics}
            if by == "week":
                entry["week_start"] = f"{starts[key]:%Y-%m-%d}"
            groups.append(entry)
        if by in ("category", "brand", "product"):
            groups.sort(key=lambda e: (-e["units"], e["key"]))
            if limit is not None:
                groups = groups[:limit]
    events = _event_costs(shop, return_cost_per_return, return_cost_per_unit)
    outliers = {"threshold_units": _round(outlier_threshold(shop.order_lines["quantity"].to_numpy()), 1),
                "lines": int(frame["outlier"].sum()), "units": float(frame.loc[frame["outlier"], "quantity"].sum())}
    return KpiReport(start, end, end_of_data, by, window, refund_target_days, return_cost_per_unit, model_block,
                     overall, groups, _volumes(shop, start, end, events, end_of_data, currencies),
                     return_cost_per_return=return_cost_per_return, refund_data=refund_data, currencies=currencies,
                     outliers=outliers)
