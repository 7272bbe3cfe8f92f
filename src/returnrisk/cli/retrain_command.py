"""``returnrisk retrain``: merge the returns recorded through the API, train a challenger, compare
it with the champion on the freshest matured weeks, promote it if it is not worse."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.cli.model_commands import TRACKING_HELP, tracker_for


def _store(db: str | None, skip: bool):
    """The returns database to merge from, or ``None`` (no database, or --no-merge)."""
    if skip:
        return None, "not merged (--no-merge)"
    from returnrisk.errors import InputError
    from returnrisk.operations.store import ReturnStore

    if db is None:
        from returnrisk.config import read_settings
        from returnrisk.serving.settings import Settings  # the service's database: a service setting

        db = read_settings(Settings).database_url
    if db.startswith("sqlite:///") and not Path(db[len("sqlite:///"):]).expanduser().exists():
        return None, f"no returns database at {db}: nothing recorded through the API to merge"
    try:
        return ReturnStore(db), f"merged from {db}"
    except ValueError as exc:
        raise InputError(f"--db: {exc}") from None


@app.command("retrain")
def retrain(
    data: Path = typer.Option(..., "--data", help="Shop history folder (see docs/data-contract.md)."),
    db: str = typer.Option(None, "--db", help="Service database of the API (default $RETURNRISK_DATABASE_URL, "
                           "else sqlite:///returnrisk-returns.db); its returns are merged with DATA's."),
    no_merge: bool = typer.Option(False, "--no-merge", help="Train on DATA as it is."),
    holdout_days: int = typer.Option(28, "--holdout-days", help="Freshest matured days held out from the "
                                     "challenger's training, on which it is compared with the champion."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    params_file: str = typer.Option(None, "--params", help="YAML file overriding training parameters (default: "
                                    "none — the packaged returnrisk/pipeline/params.yaml)."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: decision, metrics side by side."),
) -> None:
    """Retrain and promote when better. Exit codes: 0 promoted, 3 champion kept, 2 bad input."""
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.retrain import run_retrain
    from returnrisk.reasons.fill import default_reason_filler

    if not data.is_dir():
        from returnrisk.errors import InputError

        raise InputError(f"--data {data} is not a folder: pass the shop's history folder")
    params = load_params(params_file)
    tracker = tracker_for(tracking_uri)
    store, merge_note = _store(db, no_merge)
    out = err_console if as_json else console
    try:
        with out.status("retraining: merging returns, training the challenger, comparing…"):
            result = run_retrain(data, params=params, tracker=tracker, holdout_days=holdout_days, store=store,
                                 reason_filler=default_reason_filler())
    finally:
        if store is not None:
            store.dispose()
    out.print(f"returns recorded through the API: {merge_note}")
    metrics = result.metrics
    for key in ("auc", "log_loss", "ece"):
        new = metrics.get("challenger", {}).get(key)
        old = metrics.get("champion", {}).get(key)
        out.print(f"  {key:>8}: challenger v{result.challenger.model_version} "
                  f"{'–' if new is None else f'{new:.4f}'} · champion "
                  f"{'–' if result.champion_version is None else 'v' + result.champion_version} "
                  f"{'–' if old is None else f'{old:.4f}'}")
    style = "bold green" if result.promoted else "bold yellow"
    out.print(f"[{style}]{'promoted' if result.promoted else 'champion kept'}[/]: {escape(result.decision)}")
    out.print(f"report: run {result.challenger.run_id} (retrain/report.html) · "
              f"mlflow ui --backend-store-uri {tracker.tracking_uri}")
    if as_json:
        print_json_line(result.to_json())
    raise typer.Exit(result.exit_code)
