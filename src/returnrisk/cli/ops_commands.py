"""``returnrisk kpis``, ``returnrisk forecast`` and ``returnrisk export-returns`` (returns operations)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.cli.model_commands import MODEL_HELP, TRACKING_HELP, tracker_for
from returnrisk.config import DEFAULT_ECONOMICS, DEFAULT_MODEL_URI, Economics, read_settings
from returnrisk.errors import InputError, ModelNotFoundError


def _bound(value: str | None, option: str, *, end: bool = False):
    from returnrisk.timeutil import parse_period_bound

    try:
        return parse_period_bound(value, option, end=end)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _load_shop(data: Path, quarantine: Path | None):
    from returnrisk.data.loader import load_shop
    from returnrisk.reasons.fill import default_reason_filler

    return load_shop(data, quarantine_dir=quarantine, reason_filler=default_reason_filler())


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


# ---- kpis ---------------------------------------------------------------------------------------
@app.command("kpis")
def kpis(
    data: Path = typer.Option(..., "--data", help="Shop history folder (see docs/data-contract.md)."),
    start: str = typer.Option(None, "--from", help="First order date included (ISO 8601, e.g. 2026-01-01)."),
    end: str = typer.Option(None, "--to", help="Last order date included (a date includes the whole day)."),
    by: str = typer.Option(None, "--by", help="Break down by week, month, category, brand, product or reason."),
    model: str = typer.Option(None, "--model", help=MODEL_HELP + " Gives the expected final rate of provisional "
                              "periods; without --model the champion is used if there is one."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    no_model: bool = typer.Option(False, "--no-model", help="Do not load a model (no expected final rates)."),
    refund_target_days: float = typer.Option(None, "--refund-target-days", help="Refund promise in days "
                                             "(default $RETURNRISK_REFUND_TARGET_DAYS, else "
                                             f"{DEFAULT_ECONOMICS.refund_target_days:g})."),
    cost_per_return: float = typer.Option(None, "--cost-per-return", help="Cost of one return (a parcel: shipping "
                                          "+ handling) when the data has no return_cost (default "
                                          "$RETURNRISK_RETURN_COST_PER_RETURN, else "
                                          f"{DEFAULT_ECONOMICS.return_cost_per_return:g})."),
    cost_per_unit: float = typer.Option(None, "--cost-per-unit", help="Extra cost per returned unit, added to the "
                                        "cost per return when the data has none (opt-in; default "
                                        "$RETURNRISK_RETURN_COST_PER_UNIT, else "
                                        f"{DEFAULT_ECONOMICS.return_cost_per_unit:g})."),
    limit: int = typer.Option(None, "--limit", min=1, help="With --by category/brand/product: the N largest groups."),
    quarantine: Path = typer.Option(None, "--quarantine", help="Folder for rejected rows."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line holding the whole report."),
) -> None:
    """Return rates (units, value), reasons, delays, refunds within the promise, costs, weekly volumes.

    Periods whose return window is still open are marked provisional and shown with the model's
    expected final rate next to the rate observed so far.
    """
    from returnrisk.operations.kpis import GROUPINGS, compute_kpis

    if by is not None and by not in GROUPINGS:
        raise InputError(f"--by {by!r} is not a breakdown: use one of {', '.join(GROUPINGS)}")
    economics = read_settings(Economics)
    target = economics.refund_target_days if refund_target_days is None else refund_target_days
    cost = economics.return_cost_per_unit if cost_per_unit is None else cost_per_unit
    parcel = economics.return_cost_per_return if cost_per_return is None else cost_per_return
    if target <= 0:
        raise InputError(f"--refund-target-days {target} must be positive, e.g. 5")
    if cost < 0:
        raise InputError(f"--cost-per-unit {cost} must be ≥ 0")
    if parcel < 0:
        raise InputError(f"--cost-per-return {parcel} must be ≥ 0")
    when_from, when_to = _bound(start, "--from"), _bound(end, "--to", end=True)
    if when_from is not None and when_to is not None and when_to <= when_from:
        raise InputError(f"--to {end} is not after --from {start}: the period is empty")
    out = err_console if as_json else console
    shop = _load_shop(data, quarantine)
    bundle, model_info = None, {}
    if not no_model:
        try:
            bundle, ref = tracker_for(tracking_uri).load_bundle(model or DEFAULT_MODEL_URI)
            model_info = {"version": ref.version, "uri": ref.uri}
        except ModelNotFoundError as exc:
            if model is not None:
                raise
            model_info = {"note": f"no model available ({exc}): provisional periods show the rate observed so far "
                                  "only, which will rise as late returns arrive"}
    else:
        model_info = {"note": "no model requested (--no-model): provisional periods show the rate observed so far only"}
    report = compute_kpis(shop, start=when_from, end=when_to, by=by, bundle=bundle, model_info=model_info,
                          refund_target_days=target, return_cost_per_return=parcel, return_cost_per_unit=cost,
                          limit=limit)
    _print_kpis(report, out)
    if as_json:
        print_json_line(report.to_dict())


def _print_kpis(report, out) -> None:
    o = report.overall
    period = f"{report.start:%Y-%m-%d}" if report.start is not None else "start"
    period += f" → {report.end:%Y-%m-%d}" if report.end is not None else " → end"
    out.print(f"[bold]returns KPIs[/] — orders {period} · data to {report.data_end:%Y-%m-%d %H:%M} UTC · "
              f"return window {report.window_days} days")
    if not o.get("lines"):
        out.print("no order lines in this period")
        return
    line = (f"{o['lines']:,} lines · {o['units']:,.0f} units · return rate {_pct(o['return_rate_lines'])} of lines, "
            f"{_pct(o['return_rate_units'])} of units, {_pct(o['return_rate_value'])} of value")
    if o["provisional"]:
        line += (f" [yellow](provisional: {_pct(o['open_window_units_share'])} of units still in their window; "
                 f"expected final {_pct(o['expected_final_rate_units'])} of units)[/]")
    out.print(line)
    if o.get("outlier_lines"):
        out.print(f"[yellow]{o['outlier_lines']:,} outlier lines ({o['outlier_units']:,.0f} units, more than "
                  f"{report.outliers.get('threshold_units') or 0:,.0f} units each) are left out of the units and value "
                  "rates (the rate of lines keeps them): see returnrisk validate[/]")
    if report.refund_data:
        refunds = (f"return→refund: median {_num(o['days_to_refund']['median'])}, p90 {_num(o['days_to_refund']['p90'])}"
                   f" · refunded within {report.refund_target_days:g} days: {_pct(o['refund_within_target'])} "
                   f"({o['refunds_late']:,} late, {o['refunds_pending']:,} pending)")
    else:
        refunds = "refunds: no refund data (add refunded_at to the returns)"
    out.print(f"days order→return: median {_num(o['days_to_return']['median'])}, p90 {_num(o['days_to_return']['p90'])}"
              f" · {refunds}")
    estimate = f"{report.return_cost_per_return:g} per return" + (
        f" + {report.return_cost_per_unit:g} per unit" if report.return_cost_per_unit else "")
    if o.get("by_currency"):
        costs = " · ".join(f"{c} {m['return_cost']:,.2f} ({_num(m['return_cost_per_return'], 2)} per return)"
                           for c, m in o["by_currency"].items())
        out.print(f"return costs {costs}; {_pct(o['return_cost_estimated_share'])} estimated at {estimate}")
    else:
        out.print(f"return costs {o['return_cost']:,.2f} ({_num(o['return_cost_per_return'], 2)} per return; "
                  f"{_pct(o['return_cost_estimated_share'])} estimated at {estimate})")
    mix = ", ".join(f"{k} {v:.0%}" for k, v in list(o["reason_mix"].items())[:6])
    out.print(f"reasons: {mix}")
    if not report.model.get("available"):
        out.print(f"[yellow]{report.model.get('note', 'no model')}[/]")
    if report.groups:
        table = Table(title=f"by {report.by} — return rate of units (value rates and projected final rates in "
                            "--json); days = median days order→return", title_justify="left")
        target = f"refund ≤{report.refund_target_days:g}d"
        for column in ("group", "lines", "rate", "exp. final", target, "days", "cost"):
            table.add_column(column, justify="left" if column == "group" else "right", no_wrap=True)
        rows = report.groups if len(report.groups) <= 40 else report.groups[:40]
        for g in rows:
            rate = _pct(g["return_rate_units"]) + ("*" if g["provisional"] else "")
            table.add_row(g["key"], f"{g['lines']:,}", rate, _pct(g.get("expected_final_rate_units")),
                          _pct(g.get("refund_within_target")) if report.refund_data else "no data",
                          _num(g["days_to_return"]["median"]),
                          "per currency" if g.get("return_cost") is None else f"{g['return_cost']:,.0f}")
        out.print(table)
        if len(report.groups) > len(rows):
            out.print(f"… {len(report.groups) - len(rows)} more groups in --json")
        if any(g["provisional"] for g in report.groups):
            out.print("* provisional: return window still open — the rate so far will rise; exp. final = the model's "
                      "expected final rate (see docs/operations.md)")
    weeks = report.volumes[-8:]
    if weeks:
        table = Table(title="volumes per week (last 8)", title_justify="left")
        for column in ("week", "lines ordered", "returns", "refunds", "cost"):
            table.add_column(column, justify="left" if column == "week" else "right", no_wrap=True)
        for w in weeks:
            table.add_row(w["week"] + (" partial" if w["partial"] else ""), f"{w['lines_ordered']:,}",
                          f"{w['returns_received']:,}", f"{w['refunds_issued']:,}",
                          "–" if w["return_cost"] is None else f"{w['return_cost']:,.0f}")
        out.print(table)


# ---- forecast -----------------------------------------------------------------------------------
@app.command("forecast")
def forecast(
    model: str = typer.Option(DEFAULT_MODEL_URI, "--model", help=MODEL_HELP),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    data: Path = typer.Option(None, "--data", help="Shop history folder (default: the model's training data)."),
    as_of: str = typer.Option(None, "--as-of", help="Forecast as if now were this time (ISO 8601): later data is "
                              "ignored (default: the end of the data). For a backtest, use a model trained with the "
                              "same --as-of."),
    days: int = typer.Option(14, "--days", min=1, max=90, help="Days to forecast."),
    level: float = typer.Option(0.9, "--level", min=0.5, max=0.99, help="Coverage of the interval."),
    handling_minutes: float = typer.Option(None, "--handling-minutes", help="Warehouse minutes per return (default "
                                           "$RETURNRISK_HANDLING_MINUTES_PER_RETURN, else "
                                           f"{DEFAULT_ECONOMICS.handling_minutes_per_return:g})."),
    quarantine: Path = typer.Option(None, "--quarantine", help="Folder for rejected rows."),
    as_json: bool = typer.Option(False, "--json", help='End with one JSON line: {"as_of", "days", "total", '
                                 '"staff_hours"}.'),
) -> None:
    """Returns expected to arrive each day for the next days, with an interval and staff hours."""
    from returnrisk.operations.forecast import forecast_returns
    from returnrisk.timeutil import parse_iso_timestamp

    minutes = handling_minutes if handling_minutes is not None else \
        read_settings(Economics).handling_minutes_per_return
    if minutes < 0:
        raise InputError(f"--handling-minutes {minutes} must be ≥ 0")
    when = None
    if as_of is not None:
        try:
            when = parse_iso_timestamp(as_of, "--as-of")
        except ValueError as exc:
            raise InputError(str(exc)) from None
    out = err_console if as_json else console
    bundle, ref = tracker_for(tracking_uri).load_bundle(model)
    folder = data or (Path(bundle.meta["data_dir"]) if bundle.meta.get("data_dir") else None)
    if folder is None:
        raise InputError("the model does not say which data it was trained on: pass --data DIR")
    shop = _load_shop(folder, quarantine)
    try:
        result = forecast_returns(shop, bundle, as_of=when, days=days, level=level,
                                  handling_minutes_per_return=minutes)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    d = result.details
    out.print(f"[bold]returns forecast[/] as of {result.as_of:%Y-%m-%d %H:%M} UTC with returnrisk "
              f"v{ref.version or '?'} · {d['open_lines']:,} lines still in their window (mean P(return) "
              f"{_pct(d['mean_p_open'])}) · {d['orders_per_day']:,.0f} new lines a day expected")
    if d.get("model_saw_future"):
        out.print(f"[yellow]the model was trained up to {d['model_as_of']}, after --as-of: this is not a fair "
                  "backtest (train with the same --as-of)[/]")
    table = Table(title=f"{_num(result.level * 100, 0)} % interval · {minutes:g} min per return",
                  title_justify="left")
    for column in ("day", "expected", "low", "high", "staff hours", "staff hours (high)"):
        table.add_column(column, justify="left" if column == "day" else "right")
    for day, staff in zip(result.days, result.staff_hours()):
        table.add_row(f"{day.date:%a %Y-%m-%d}", f"{day.expected:,.1f}", f"{day.low:,.1f}", f"{day.high:,.1f}",
                      f"{staff['hours']:,.1f}", f"{staff['high']:,.1f}")
    table.add_row("total", f"{result.total_expected:,.1f}", f"{result.total_low:,.1f}", f"{result.total_high:,.1f}",
                  f"{result.total_expected * minutes / 60:,.1f}", "")
    out.print(table)
    out.print(f"{d['from_open_lines']:,.0f} from lines already ordered, {d['from_new_orders']:,.0f} from orders not "
              f"placed yet · delays: median {d['delay_median_days']:.1f} days, p90 {d['delay_p90_days']:.1f}")
    if as_json:
        print_json_line(result.to_dict())


# ---- export-returns -----------------------------------------------------------------------------
def _export_exchanges(store, out_dir: Path) -> int:
    """exchanges.csv beside returns.csv: the customer returns with their exchange or refund (issue 16)."""
    from returnrisk.capture.listing import exchanges_table
    from returnrisk.capture.records import CaptureRecords
    from returnrisk.io_files import write_table

    table = exchanges_table(store, CaptureRecords(store.engine))
    write_table(table, Path(out_dir) / "exchanges.csv")
    return len(table)



@app.command("export-returns")
def export_returns_command(
    out_dir: Path = typer.Option(..., "--out", help="Folder to write returns.csv to."),
    db: str = typer.Option(None, "--db", help="Service database URL (default $RETURNRISK_DATABASE_URL, else "
                           "sqlite:///returnrisk-returns.db)."),
    merge_with: Path = typer.Option(None, "--merge-with", help="Shop folder: write a complete shop to --out — its "
                                    "returns plus the stored ones (stored win for the same line_id), its products "
                                    "and order lines copied — ready for `returnrisk train --data OUT`."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line describing what was written."),
) -> None:
    """Write the returns recorded through POST /v1/returns and webhooks in the data contract (returns.csv), with
    the order lines received by webhook (webhook_order_lines.csv; merged into order_lines.csv with --merge-with)."""
    from returnrisk.operations.export import export_returns
    from returnrisk.operations.store import ReturnStore
    from returnrisk.serving.settings import Settings  # the service's database: a service setting

    url = db or read_settings(Settings).database_url
    try:
        store = ReturnStore(url)
    except ValueError as exc:
        raise InputError(f"--db: {exc}") from None
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result = export_returns(store, out_dir, merge_with=merge_with)
        exchanges = _export_exchanges(store, out_dir)
    except SQLAlchemyError as exc:
        raise InputError(f"cannot read the returns database {url}: {str(exc).splitlines()[0]} — check --db") from None
    finally:
        store.dispose()
    out = err_console if as_json else console
    if merge_with is None:
        out.print(f"{result.n_stored:,} stored returns written to {result.path}; {result.webhook_lines:,} webhook "
                  f"order lines to {out_dir / 'webhook_order_lines.csv'}")
    else:
        if result.webhook_lines:
            out.print(f"webhook order lines: {result.webhook_lines_added:,} added to order_lines.csv "
                      f"({result.webhook_lines_already_in_shop:,} already in the shop's files, kept once), "
                      f"{result.products_added:,} new products added to products.csv")
        out.print(f"{result.path}: {result.n_shop:,} shop returns ({result.n_replaced:,} replaced by stored ones) + "
                  f"{result.n_stored:,} stored = {result.n_written:,} returns; {', '.join(result.copied)} copied — "
                  f"train with: returnrisk train --data {out_dir}")
        if result.unknown_lines:
            out.print(f"[yellow]{result.unknown_lines:,} stored returns are for lines not in {merge_with}'s order "
                      "lines: they will be set aside when loading until those lines are exported[/]")
        if result.malformed_shop_rows:
            out.print(f"[yellow]{result.malformed_shop_rows:,} malformed rows of the shop's returns file could not be "
                      "carried over: fix them (returnrisk validate --data DIR lists them)[/]")
    out.print(f"{exchanges:,} customer returns (portal, e-mail: exchange or refund, size asked) written to "
              f"{Path(out_dir) / 'exchanges.csv'}")
    if as_json:
        print_json_line({**result.to_dict(), "exchanges": exchanges})
