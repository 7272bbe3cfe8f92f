"""Returns KPIs: rates, reasons, delays, refunds against the promise, costs, weekly volumes.

Definitions (all computed from the shop's clean tables; see docs/operations.md)
-------------------------------------------------------------------------------
Cohort metrics are about the **lines ordered** in the period ``[start, end)`` (or in a group of
them: order week or month, category, brand, product, reason):

``return_rate_units``
    returned units / ordered units (a return covers its whole line, ``quantity`` units);
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
    would flatter the figure;
``return_cost``
    the data's ``return_cost``, else ``return_cost_per_unit × quantity`` (the share estimated
    is reported).

**Provisional.** A line ordered less than ``window_days`` before the end of the data can still
come back, so a group holding such lines is ``provisional``: its rates are the rates *observed
so far* and are shown next to

* ``expected_final_rate_*`` — returned units of the lines whose window is closed, plus the
  model's P(return) (:func:`~returnrisk.scoring.batch.score_frame`) × units of the lines
  still in their window, over all units: for a period entirely in its window this is the mean
  of the model's P(return) over its lines (units-weighted);
* ``projected_final_rate_*`` — the same, but for a line still in its window the returns
  already in count as 1 and a line not returned yet counts ``p·(1 − F(e)) / (1 − p·F(e))``,
  its chance to still come back after ``e`` days without return (``F`` the delay
  distribution): the model's prior updated with the returns seen so far.

Without a model both are ``None`` and the report says so; the period is still provisional.

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

    def to_dict(self) -> dict:
        return {
            "from": iso(self.start), "to": iso(self.end), "data_end": iso(self.data_end), "by": self.by,
            "window_days": self.window_days, "refund_target_days": self.refund_target_days,
            "return_cost_per_unit": self.return_cost_per_unit, "model": self.model,
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


def line_outcomes(shop: Shop, *, end_of_data: pd.Timestamp, window_days: int, return_cost_per_unit: float,
                  refund_target_days: float) -> pd.DataFrame:
    """One row per order line with what happened to it (the input of every KPI)."""
    lines = shop.order_lines.reset_index(drop=True)
    products = shop.products.drop_duplicates("product_id")
    product_pos = pd.Index(products["product_id"].astype(str)).get_indexer(lines["product_id"].astype(str))
    returns = shop.returns.drop_duplicates("line_id").reset_index(drop=True)
    pos = pd.Index(returns["line_id"].astype(str)).get_indexer(lines["line_id"].astype(str))
    out = pd.DataFrame({
        "line_id": lines["line_id"].astype(str),
        "product_id": lines["product_id"].astype(str),
        "ordered_at": lines["ordered_at"],
        "quantity": lines["quantity"].to_numpy(dtype=float),
        "value": (lines["quantity"] * lines["unit_price"]).to_numpy(dtype=float),
    })
    out["category"] = _take(products["category"].astype(object), product_pos).fillna("(none)").to_numpy()
    brand = products["brand"] if "brand" in products.columns else pd.Series([None] * len(products))
    out["brand"] = _take(brand.astype(object), product_pos).fillna("(none)").to_numpy()
    out["returned"] = pos >= 0
    out["returned_at"] = _take(returns["returned_at"], pos)
    codes = _take(returns["reason_code"].astype(object), pos)
    out["reason"] = np.where(out["returned"], codes.where(codes.notna(), NO_REASON), None)
    if "refunded_at" in returns.columns:
        out["refunded_at"] = _take(returns["refunded_at"], pos)
    else:
        out["refunded_at"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    cost = _take(returns["return_cost"].astype(float), pos) if "return_cost" in returns.columns \
        else pd.Series(np.nan, index=out.index)
    out["cost_estimated"] = out["returned"].to_numpy() & cost.isna().to_numpy()
    out["cost"] = np.where(out["returned"], cost.fillna(out["quantity"] * return_cost_per_unit), np.nan)
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
    """Add ``p_return``, ``p_<group>`` and ``p_remaining`` for the lines still in their window."""
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
    if delays is not None:
        elapsed = delays.cdf_at(frame["age_days"].to_numpy()[open_rows])
        remaining = p * (1.0 - elapsed) / np.clip(1.0 - p * elapsed, 1e-9, None)
        returned = frame["returned"].to_numpy()[open_rows]
        frame.iloc[open_rows, frame.columns.get_loc("p_remaining")] = np.where(returned, 1.0, remaining)
    return frame


_FINAL_KEYS = ("expected_final_rate_units", "expected_final_rate_value",
               "projected_final_rate_units", "projected_final_rate_value")


def _aggregate(frame: pd.DataFrame, keys: np.ndarray, *, model: bool, projected: bool) -> dict[str, dict]:
    """The cohort metrics of every key (one groupby per statistic, no loop over groups)."""
    ret = frame["returned"].to_numpy()
    open_window = frame["open_window"].to_numpy()
    q, v = frame["quantity"].to_numpy(), frame["value"].to_numpy()
    closed_ret = ret & ~open_window
    p = np.nan_to_num(frame["p_return"].to_numpy(dtype=float))
    remaining = np.nan_to_num(frame["p_remaining"].to_numpy(dtype=float))
    cols = pd.DataFrame({
        "lines": np.ones(len(frame)), "units": q, "value": v, "returns": ret.astype(float),
        "ret_units": q * ret, "ret_value": v * ret,
        "refunds": (ret & frame["refunded_at"].notna().to_numpy()).astype(float),
        "pending": frame["refund_pending"].to_numpy(dtype=float),
        "on_time": frame["refund_on_time"].to_numpy(dtype=float), "late": frame["refund_late"].to_numpy(dtype=float),
        "cost": np.nan_to_num(frame["cost"].to_numpy(dtype=float)),
        "cost_est": frame["cost_estimated"].to_numpy(dtype=float),
        "open_units": q * open_window, "open_lines": open_window.astype(float),
        "exp_units": q * closed_ret + p * q * open_window, "exp_value": v * closed_ret + p * v * open_window,
        "proj_units": q * closed_ret + remaining * q * open_window,
        "proj_value": v * closed_ret + remaining * v * open_window,
    })
    sums = cols.groupby(keys, sort=True).sum()
    returned = frame[ret]
    rkeys = keys[ret]
    quant = {}
    for name in ("days_to_return", "days_to_refund"):
        grouped = returned[name].groupby(rkeys)
        quant[name] = (grouped.quantile(0.5), grouped.quantile(0.9), grouped.count())
    mix = pd.crosstab(rkeys, returned["reason"].to_numpy(), normalize="index") if len(returned) else pd.DataFrame()
    out = {}
    for key, row in sums.iterrows():
        units, value, n_ret = row["units"], row["value"], int(row["returns"])
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
            "lines": int(row["lines"]), "units": float(units), "value": _round(value, 2),
            "returns": n_ret, "returned_units": float(row["ret_units"]), "returned_value": _round(row["ret_value"], 2),
            "return_rate_units": _round(row["ret_units"] / units) if units else None,
            "return_rate_value": _round(row["ret_value"] / value) if value else None,
            "reason_mix": {str(k): _round(x) for k, x in shares.items()},
            "days_to_return": delays["days_to_return"], "days_to_refund": delays["days_to_refund"],
            "refunds": int(row["refunds"]), "refunds_pending": int(row["pending"]),
            "refund_within_target": _round(row["on_time"] / decided) if decided else None,
            "refunds_late": int(row["late"]),
            "return_cost": _round(row["cost"], 2),
            "return_cost_per_return": _round(row["cost"] / n_ret, 2) if n_ret else None,
            "return_cost_estimated_share": _round(row["cost_est"] / n_ret) if n_ret else None,
            "provisional": provisional,
            "open_window_units_share": _round(row["open_units"] / units) if units else None,
            **dict.fromkeys(_FINAL_KEYS),
        }
        if provisional and model:
            entry["expected_final_rate_units"] = _round(row["exp_units"] / units) if units else None
            entry["expected_final_rate_value"] = _round(row["exp_value"] / value) if value else None
            if projected:
                entry["projected_final_rate_units"] = _round(row["proj_units"] / units) if units else None
                entry["projected_final_rate_value"] = _round(row["proj_value"] / value) if value else None
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


def _by_reason(frame: pd.DataFrame, *, model: bool) -> list[dict]:
    """One group per reason code of the returns; rates are over all the period's units and value."""
    units, value = float(frame["quantity"].sum()), float(frame["value"].sum())
    ret = frame["returned"].to_numpy()
    if not ret.any():
        return []
    keys = np.where(ret, frame["reason"].astype(object).to_numpy(), None)
    stats = _aggregate(frame[ret], keys[ret], model=False, projected=False)
    open_window = frame["open_window"].to_numpy()
    provisional = bool(open_window.any())
    shares = _code_shares_within_group(frame) if model and provisional else {}
    q, v = frame["quantity"].to_numpy(), frame["value"].to_numpy()
    groups = []
    for code, entry in stats.items():
        entry = dict(entry)
        entry.pop("reason_mix")
        entry["key"] = str(code)
        entry["share_of_returns"] = _round(entry["returns"] / ret.sum())
        entry["return_rate_units"] = _round(entry["returned_units"] / units) if units else None
        entry["return_rate_value"] = _round(entry["returned_value"] / value) if value else None
        entry["provisional"] = provisional
        entry["open_window_units_share"] = _round(q[open_window].sum() / units) if units else None
        for name in _FINAL_KEYS:
            entry[name] = None
        if shares:
            group = group_of(code if code != NO_REASON else None)
            p = np.nan_to_num(frame[f"p_{group}"].to_numpy(dtype=float)) * shares.get(str(code), 0.0)
            closed = (keys == code) & ~open_window
            if units:
                entry["expected_final_rate_units"] = _round((q[closed].sum() + (p * q)[open_window].sum()) / units)
            if value:
                entry["expected_final_rate_value"] = _round((v[closed].sum() + (p * v)[open_window].sum()) / value)
        groups.append(entry)
    groups.sort(key=lambda e: (-e["returns"], e["key"]))
    return groups


def _volumes(shop: Shop, start, end, return_cost_per_unit: float, end_of_data: pd.Timestamp) -> list[dict]:
    lines = shop.order_lines
    returns = shop.returns.merge(lines[["line_id", "quantity"]], on="line_id", how="left")
    start_of_data = lines["ordered_at"].min()

    def within(ts: pd.Series) -> np.ndarray:
        mask = ts.notna()
        if start is not None:
            mask &= ts >= start
        if end is not None:
            mask &= ts < end
        return mask.to_numpy(dtype=bool)

    ordered = lines[within(lines["ordered_at"])]
    received = returns[within(returns["returned_at"])]
    refunded = returns[within(returns["refunded_at"])] if "refunded_at" in returns.columns else returns.iloc[:0]
    cost = received["return_cost"].astype(float).fillna(received["quantity"].fillna(1) * return_cost_per_unit)
    parts = {
        "lines_ordered": ordered.groupby(_week_start(ordered["ordered_at"])).size(),
        "units_ordered": ordered.groupby(_week_start(ordered["ordered_at"]))["quantity"].sum(),
        "value_ordered": (ordered["quantity"] * ordered["unit_price"]).groupby(_week_start(ordered["ordered_at"])).sum(),
        "returns_received": received.groupby(_week_start(received["returned_at"])).size(),
        "units_returned": received.groupby(_week_start(received["returned_at"]))["quantity"].sum(),
        "refunds_issued": refunded.groupby(_week_start(refunded["refunded_at"])).size(),
        "return_cost": cost.groupby(_week_start(received["returned_at"])).sum(),
    }
    table = pd.DataFrame(parts).fillna(0.0).sort_index()
    out = []
    for week, row in table.iterrows():
        week_end = week + pd.Timedelta(days=7)
        partial = bool(week_end > end_of_data or week < start_of_data or (start is not None and week < start)
                       or (end is not None and week_end > end))
        out.append({
            "week": f"{week:%G-W%V}", "week_start": f"{week:%Y-%m-%d}", "partial": partial,
            "lines_ordered": int(row["lines_ordered"]), "units_ordered": float(row["units_ordered"]),
            "value_ordered": _round(row["value_ordered"], 2), "returns_received": int(row["returns_received"]),
            "units_returned": float(row["units_returned"]), "refunds_issued": int(row["refunds_issued"]),
            "return_cost": _round(row["return_cost"], 2),
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
    return_cost_per_unit: float = DEFAULT_ECONOMICS.return_cost_per_unit,
    limit: int | None = None,
) -> KpiReport:
    """KPIs of the lines ordered in ``[start, end)`` (see the module docstring for definitions).

    ``bundle`` (optional) gives the expected final rates of provisional groups and its
    ``snapshot.window_days`` the return window (else ``window_days``, default
    :data:`~returnrisk.timeutil.DEFAULT_WINDOW_DAYS`). The money and refund settings default
    to :data:`~returnrisk.config.DEFAULT_ECONOMICS`; callers pass the shop's
    :class:`~returnrisk.config.Economics`.
    ``limit`` keeps the largest groups (by units) of a category/brand/product breakdown.
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
    frame = line_outcomes(shop, end_of_data=end_of_data, window_days=window,
                          return_cost_per_unit=return_cost_per_unit, refund_target_days=refund_target_days)
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
            log.warning("no projected final rates: %s", exc)
    frame = _model_columns(frame, lines, bundle, delays)
    if model:
        model_block = {"available": True, **(model_info or {}), "as_of": bundle.meta.get("as_of")}
    else:
        model_block = {"available": False, **(model_info or {})}
        model_block.setdefault("note", "no model available: groups whose return window is still open are marked "
                                       "provisional and show only the rate observed so far, which will rise as "
                                       "late returns arrive; train a model (returnrisk train) for expected final rates")

    projected = delays is not None
    overall = _aggregate(frame, np.zeros(len(frame), dtype=np.int64), model=model, projected=projected).get(0) \
        if len(frame) else {"lines": 0, "units": 0.0, "returns": 0, "provisional": False}
    groups: list[dict] = []
    if by == "reason" and len(frame):
        groups = _by_reason(frame, model=model)
    elif by is not None and len(frame):
        keys, starts = _group_keys(frame, by)
        for key, metrics in _aggregate(frame, keys.to_numpy(), model=model, projected=projected).items():
            entry = {"key": str(key), **metrics}
            if by == "week":
                entry["week_start"] = f"{starts[key]:%Y-%m-%d}"
            groups.append(entry)
        if by in ("category", "brand", "product"):
            groups.sort(key=lambda e: (-e["units"], e["key"]))
            if limit is not None:
                groups = groups[:limit]
    return KpiReport(start, end, end_of_data, by, window, refund_target_days, return_cost_per_unit, model_block,
                     overall, groups, _volumes(shop, start, end, return_cost_per_unit, end_of_data))
