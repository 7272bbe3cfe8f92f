"""``returnrisk fixes``: which product pages to fix, how, and what it saves."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.config import DEFAULT_ECONOMICS, DEFAULT_MODEL_URI

_FORMATS = (".json", ".csv", ".html")


def resolve_data_dir(data: Path | None, bundle_meta: dict) -> Path:
    """``--data``, else the folder the model was trained on (``bundle.meta["data_dir"]``)."""
    from returnrisk.errors import InputError

    if data is not None:
        folder = Path(data)
        if not folder.is_dir():
            raise InputError(f"--data {folder} is not a folder: pass the shop history folder "
                             "(products, order_lines, returns)")
        return folder
    trained_on = bundle_meta.get("data_dir")
    if not trained_on:
        raise InputError("the model does not record the folder it was trained on: pass --data DIR")
    folder = Path(trained_on)
    if not folder.is_dir():
        raise InputError(f"the model was trained on {folder}, which no longer exists here: pass --data DIR "
                         "with the shop history")
    return folder


@app.command("fixes")
def fixes(
    output: Path = typer.Option(..., "--output", help="Where to write the suggestions: .json, .csv or .html "
                                "(a self-contained page that opens offline)."),
    model: str = typer.Option(DEFAULT_MODEL_URI, "--model", help=f"Model URI (default {DEFAULT_MODEL_URI})."),
    data: Path = typer.Option(None, "--data", help="Shop history folder (default: the folder the model was "
                              "trained on)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: "
                                     "$MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)."),
    as_of: str = typer.Option(None, "--as-of", help="Analyse the history as it was known at this time "
                              "(default: all of it)."),
    threshold: float = typer.Option(None, "--threshold", help="Posterior probability of an excess that flags a "
                                    "product (default: $RETURNRISK_FLAG_THRESHOLD, else "
                                    f"{DEFAULT_ECONOMICS.flag_threshold:g})."),
    return_cost: float = typer.Option(None, "--return-cost", help="Cost of one return when the data has no "
                                      "return_cost (default: $RETURNRISK_RETURN_COST_PER_RETURN, else "
                                      f"{DEFAULT_ECONOMICS.return_cost_per_return:g})."),
    margin_loss: float = typer.Option(None, "--margin-loss", help="Share of a returned line's value lost "
                                      "(default: $RETURNRISK_MARGIN_LOSS_RATE, else "
                                      f"{DEFAULT_ECONOMICS.margin_loss_rate:g})."),
    top: int = typer.Option(15, "--top", min=0, help="Suggestions shown in the terminal."),
    status: str = typer.Option(None, "--status", help="Only fixes with these statuses (comma-separated: open, "
                               "in_progress, done, dismissed, measuring, measured, all), as recorded in the service "
                               "database; done fixes no longer suggested are listed as last suggested."),
    db: str = typer.Option(None, "--db", help="With --status: the service database (default "
                           "$RETURNRISK_DATABASE_URL)."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: output, summary."),
) -> None:
    """Rank the product pages to fix: levers, evidence, expected returns avoided and savings per month.

    Savings are model estimates from the shop's history, not measured causal effects.
    """
    from returnrisk.cli.model_commands import _timestamp, tracker_for
    from returnrisk.config import Economics, read_settings
    from returnrisk.errors import InputError
    from returnrisk.fixes import FixParams, compute_fixes, load_fix_shop
    from returnrisk.fixes.report import write_report

    if output.suffix.lower() not in _FORMATS:
        raise InputError(f"--output {output.name}: use a file ending in .json, .csv or .html")
    if output.exists() and output.is_dir():
        raise InputError(f"--output {output} is a folder: give a file name ending in .json, .csv or .html")
    when = _timestamp(as_of, "--as-of")
    try:
        params = FixParams.from_economics(read_settings(Economics), flag_threshold=threshold,
                                          return_cost_per_unit=return_cost, margin_loss_rate=margin_loss)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if data is not None and not Path(data).is_dir():
        raise InputError(f"--data {data} is not a folder: pass the shop history folder "
                         "(products, order_lines, returns)")
    out = err_console if as_json else console
    with out.status("loading the model"):
        bundle, ref = tracker_for(tracking_uri).load_bundle(model)
    folder = resolve_data_dir(data, bundle.meta)
    with out.status(f"loading {folder}"):
        shop = load_fix_shop(folder)
    if when is not None and when <= shop.order_lines["ordered_at"].min():
        raise InputError(f"--as-of {when.isoformat()} is before the first order: nothing to analyse")
    with out.status("weighing the evidence, product by product"):
        report = compute_fixes(shop, bundle, params, as_of=when,
                               model_info={"version": ref.version, "alias": ref.alias, "uri": ref.uri})
    statuses: dict[str, str] = {}
    if status is not None:
        report, statuses = _with_status(report, shop, status, db)
    write_report(report, output)
    summary = report.summary()
    capture = report.reason_capture.message if report.reason_capture is not None else None
    if capture:
        out.print(capture["en"], style="bold yellow", markup=False, highlight=False)
    table = Table(title=f"fix suggestions — {summary['suggestions']:,} on {summary['products_flagged']:,} of "
                        f"{summary['products_analysed']:,} products (history to {report.as_of:%Y-%m-%d})",
                  title_justify="left")
    for column, justify in (("#", "right"), ("product", "left"), ("size", "left"), ("lever", "left"),
                            ("returns avoided / month", "right"), ("savings / month", "right"),
                            ("confidence", "right"), ("flagged since", "left"), ("fix id", "left"),
                            ("status", "left")):
        table.add_column(column, justify=justify)
    for fix in report.fixes[:top]:
        table.add_row(str(fix["priority_rank"]), fix["product_id"], fix["size"] or "", fix["lever"],
                      f"{fix['expected_returns_avoided_per_month']:.2f}", f"{fix['expected_savings_per_month']:,.2f}",
                      f"{fix['confidence']:.3f}", fix["flagged_since"] or "", fix["fix_id"],
                      statuses.get(fix["fix_id"], "open" if status is None else ""))
    if top:
        out.print(table)
    out.print(f"in all: {summary['returns_avoided_per_month']:,.1f} returns avoided and "
              f"{summary['savings_per_month']:,.2f} saved per month (model estimates, not measured effects) "
              f"→ {output}")
    if as_json:
        print_json_line({"output": str(output), "model_version": ref.version, "data_dir": str(folder),
                         "summary": summary, **({"statuses": statuses} if status is not None else {})})


def _with_status(report, shop, status: str, db: str | None):
    """``report`` cut to the fixes whose recorded status (or phase) is in ``status``, and each one's phase."""
    import dataclasses

    from pydantic import TypeAdapter

    from returnrisk.cli.lifecycle_commands import open_store
    from returnrisk.config import Economics, read_settings
    from returnrisk.fixes.suggestion import FixSuggestion
    from returnrisk.lifecycle import FixBoard, FixQuery, select

    query = FixQuery(status=FixQuery.parse_status(status), limit=10**9)
    store = open_store(db)
    try:
        state = FixBoard(store, read_settings(Economics)).state(report, shop)
    finally:
        store.engine.dispose()
    rows = select(state.rows, query).rows
    current = {s.fix_id: s for s in report.suggestions}
    adapter = TypeAdapter(FixSuggestion)
    chosen = [current.get(r.fix_id) or adapter.validate_python(r.fix) for r in rows]
    kept = {s.product_id for s in chosen}
    cut = dataclasses.replace(report, suggestions=chosen, _json=None, _by_product=None,
                              profiles={k: v for k, v in report.profiles.items() if k in kept})
    return cut, {r.fix_id: r.phase for r in rows}
