"""``returnrisk monitor``: is the model still right on the lines ordered since its as-of date?"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.cli.model_commands import MODEL_HELP, TRACKING_HELP, tracker_for
from returnrisk.config import DEFAULT_MODEL_URI

_STYLE = {"healthy": "bold green", "degraded": "bold yellow", "retrain_recommended": "bold red"}


@app.command("monitor")
def monitor_command(
    model: str = typer.Option(DEFAULT_MODEL_URI, "--model", help=MODEL_HELP),
    data: Path = typer.Option(None, "--data", help="Shop history folder holding the lines since the model's as-of "
                              "date (default: the folder the model was trained on)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    out: Path = typer.Option(None, "--out", help="Folder for report.html and report.json (default "
                             "DATA/.returnrisk/monitoring/<model version>-<date>)."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log the report on the model's MLflow run."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: verdict, reasons, every figure."),
) -> None:
    """Monitor a model on what happened since its as-of date: AUC, calibration, drift, unknowns.

    Verdict: healthy, degraded or retrain_recommended, naming every threshold crossed (settings
    RETURNRISK_MONITOR_*, see docs/monitoring.md). Writes an HTML and a JSON report and logs both,
    with monitor_* metrics, on the model's MLflow run. Exit code 0 whatever the verdict (read it
    from --json), 2 on bad input.
    """
    import pandas as pd

    from returnrisk.errors import InputError
    from returnrisk.config import MonitorSettings, read_settings
    from returnrisk.monitoring import monitor
    from returnrisk.monitoring.html import render_html
    from returnrisk.reasons.fill import default_reason_filler

    settings = read_settings(MonitorSettings, "docs/monitoring.md#verdict")
    tracker = tracker_for(tracking_uri)
    bundle, ref = tracker.load_bundle(model)
    folder = Path(data) if data is not None else Path(bundle.meta.get("data_dir") or ".")
    if data is None and not folder.is_dir():
        raise InputError(f"the folder this model was trained on ({folder}) no longer exists: pass --data with the "
                         "shop's current history")
    from returnrisk.data.loader import load_shop

    shop = load_shop(folder, reason_filler=default_reason_filler())
    report = monitor(bundle, shop, settings,
                     model={"uri": model, "version": ref.version, "run_id": ref.run_id, "data_dir": str(folder.resolve())})
    payload = report.to_json()
    html = render_html(payload)
    stamp = pd.Timestamp.now(tz="UTC")
    name = f"v{ref.version or 'x'}-{stamp:%Y%m%dT%H%M%S}"
    target = out or folder / ".returnrisk" / "monitoring" / name
    target.mkdir(parents=True, exist_ok=True)
    from returnrisk.strict_json import dumps

    (target / "report.html").write_text(html, encoding="utf-8")
    (target / "report.json").write_text(dumps(payload, indent=2), encoding="utf-8")
    logged = None
    if ref.run_id and not no_log:
        step = max(int((pd.Timestamp(payload["period"]["now"]) - pd.Timestamp(payload["period"]["as_of"])).days), 0)
        tracker.log_to_run(ref.run_id, metrics=report.metrics(), step=step,
                           texts={f"monitoring/{name}/report.html": html,
                                  f"monitoring/{name}/report.json": dumps(payload, indent=2)},
                           tags={"returnrisk.monitor.verdict": report.verdict,
                                 "returnrisk.monitor.at": stamp.isoformat()})
        logged = tracker.artifact_uri(ref.run_id, f"monitoring/{name}")

    screen = err_console if as_json else console
    period = payload["period"]
    screen.print(f"model {escape(model)} (v{ref.version or '?'}, as-of {period['as_of'][:10]}) on {folder}: "
                 f"{period['lines']:,} lines since, {period['matured_lines']:,} matured")
    perf = payload["performance"]
    if perf.get("auc") is not None:
        screen.print(f"AUC {perf['auc']:.4f} (validation {perf.get('validation_auc') or float('nan'):.4f}) · "
                     f"ECE {perf['ece']:.4f} (chance up to {perf['ece_chance']:.4f}) · predicted "
                     f"{perf['mean_predicted_matured']:.1%} vs observed {perf['observed_rate']:.1%}")
    table = Table(title="checks crossed", title_justify="left")
    for column in ("level", "metric", "subject", "value", "threshold"):
        table.add_column(column, justify="right" if column in ("value", "threshold") else "left")
    for check in report.crossed:
        table.add_row(check.level, check.metric, escape(check.subject), f"{check.value:.4f}", f"{check.threshold:g}")
    if report.crossed:
        screen.print(table)
    for note in report.notes:
        screen.print(f"[dim]{escape(note)}[/]")
    screen.print(f"verdict: [{_STYLE[report.verdict]}]{report.verdict}[/]"
                 + "".join(f"\n  · {escape(reason)}" for reason in report.reasons[:8]))
    screen.print(f"report: {target / 'report.html'}" + (f" · logged on run {ref.run_id}" if logged else ""))
    if as_json:
        print_json_line({**payload, "report_html": str(target / "report.html"), "logged_to": logged})
