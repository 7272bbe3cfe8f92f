"""``returnrisk fix-status``, ``returnrisk alerts`` and ``returnrisk worker``: the life of a fix
from the command line (the service database of RETURNRISK_DATABASE_URL, or ``--db``)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import typer
from rich.table import Table

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.config import DEFAULT_MODEL_URI

__all__ = ["alerts_command", "fix_status", "open_store", "worker_command"]

_DB_HELP = "Service database URL (default $RETURNRISK_DATABASE_URL, else sqlite:///returnrisk-returns.db)."


def open_engine(db: str | None):
    """The service database's engine, its schema checked (an empty one is created)."""
    from sqlalchemy.exc import SQLAlchemyError

    from returnrisk.cli.db_command import database_url
    from returnrisk.db import ensure_schema, make_engine, shown_url
    from returnrisk.errors import InputError

    url = database_url(db)
    engine = make_engine(url, label="RETURNRISK_DATABASE_URL: database")
    try:
        ensure_schema(engine)
    except SQLAlchemyError as exc:
        raise InputError(f"the service database {shown_url(url)} cannot be opened: {str(exc).splitlines()[0]} — "
                         "check RETURNRISK_DATABASE_URL or --db") from None
    return engine


def open_store(db: str | None):
    from returnrisk.lifecycle import FixStatusStore

    return FixStatusStore(open_engine(db))


def board_state(store, model: str, data: Path | None, tracking_uri: str | None, out):
    """Compute the fix report of ``model`` on the shop and join the recorded statuses."""
    from returnrisk.cli.fixes_command import resolve_data_dir
    from returnrisk.cli.model_commands import tracker_for
    from returnrisk.config import Economics, read_settings
    from returnrisk.fixes import FixParams, compute_fixes, load_fix_shop
    from returnrisk.lifecycle import FixBoard

    economics = read_settings(Economics)
    with out.status("loading the model"):
        bundle, ref = tracker_for(tracking_uri).load_bundle(model)
    folder = resolve_data_dir(data, bundle.meta)
    with out.status(f"loading {folder}"):
        shop = load_fix_shop(folder)
    with out.status("weighing the evidence, product by product"):
        report = compute_fixes(shop, bundle, FixParams.from_economics(economics),
                               model_info={"version": ref.version, "alias": ref.alias, "uri": ref.uri})
    return FixBoard(store, economics).state(report, shop)


@app.command("fix-status")
def fix_status(
    fix_id: str = typer.Argument(..., help="The fix's fix_id (returnrisk fixes, GET /v1/fixes)."),
    status: str = typer.Argument(..., help="open, in_progress, done or dismissed."),
    live_at: str = typer.Option(None, "--live-at", help="done: the date the fix went live (YYYY-MM-DD)."),
    note: str = typer.Option(None, "--note", help="A note kept with the change."),
    dismiss_reason: str = typer.Option(None, "--dismiss-reason", help="dismissed: wrong, not_worth_it or "
                                       "already_done."),
    by: str = typer.Option(None, "--by", help="Who makes the change (default: cli:$USER)."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
    model: str = typer.Option(DEFAULT_MODEL_URI, "--model", help=f"Model URI (default {DEFAULT_MODEL_URI})."),
    data: Path = typer.Option(None, "--data", help="Shop history folder (default: the model's training data)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: the recorded change."),
) -> None:
    """Record a fix's new status (an audit trail: every change is kept, with who and when)."""
    import datetime as dt

    import pandas as pd

    from returnrisk.errors import InputError
    from returnrisk.fixes.ids import is_fix_id
    from returnrisk.fixes.status import StatusChange
    from returnrisk.lifecycle import set_status

    if not is_fix_id(fix_id):
        raise InputError(f"FIX_ID {fix_id!r} is not a fix id (12 hex digits, e.g. 392585cce104): copy it from "
                         "returnrisk fixes or GET /v1/fixes")
    day = None
    if live_at:
        try:
            day = dt.date.fromisoformat(live_at.strip())
        except ValueError:
            raise InputError(f"--live-at {live_at!r} is not a date: use YYYY-MM-DD") from None
    author = by or f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"
    out = err_console if as_json else console
    store = open_store(db)
    try:
        state = board_state(store, model, data, tracking_uri, out)
        stored = set_status(store, fix_id, StatusChange(status, day, note, dismiss_reason), by=author,
                            at=pd.Timestamp.now(tz="UTC"), fix=state.suggestion(fix_id), rule=state.rule)
    finally:
        store.engine.dispose()
    extra = f", live since {stored.status.live_at}" if stored.status.live_at else ""
    out.print(f"fix {fix_id} ({stored.product_id}{' ' + stored.size if stored.size else ''}, {stored.lever}) is now "
              f"{stored.status.status}{extra} — recorded by {author}")
    if as_json:
        print_json_line(stored.to_dict())


@app.command("alerts")
def alerts_command(
    since: str = typer.Option(None, "--since", help="Only alerts created since (ISO date or timestamp)."),
    kind: str = typer.Option(None, "--kind", help="newly_flagged, recurrence or no_effect."),
    limit: int = typer.Option(100, "--limit", min=1, help="Most alerts listed (newest first)."),
    db: str = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: the alerts."),
) -> None:
    """List the alerts the worker raised, newest first, with how far their delivery got."""
    from returnrisk.cli.model_commands import _timestamp
    from returnrisk.errors import InputError
    from returnrisk.lifecycle.alerts import ALERT_KINDS
    from returnrisk.lifecycle.outbox import AlertOutbox

    if kind is not None and kind not in ALERT_KINDS:
        raise InputError(f"--kind {kind!r} is not one of {', '.join(ALERT_KINDS)}")
    when = _timestamp(since, "--since")
    engine = open_engine(db)
    try:
        found = AlertOutbox(engine).recent(since=when, kind=kind, limit=limit)
    finally:
        engine.dispose()
    out = err_console if as_json else console
    table = Table(title=f"{len(found)} alert(s){' since ' + when.isoformat() if when is not None else ''}",
                  title_justify="left")
    for column in ("created", "kind", "product", "delivered", "text"):
        table.add_column(column)
    for alert in found:
        delivered = f"{alert.delivered}/{alert.deliveries}" if alert.deliveries else "no webhook"
        table.add_row(alert.created_at.strftime("%Y-%m-%d %H:%M"), alert.kind, alert.product_id or "", delivered,
                      alert.text)
    out.print(table)
    if as_json:
        print_json_line({"alerts": [a.to_dict() for a in found]})


@app.command("worker")
def worker_command(
    once: bool = typer.Option(False, "--once", help="One detection and one delivery pass, then exit (cron, tests)."),
    every: float = typer.Option(3600.0, "--every", min=1.0, help="Seconds between two detections (fix report, "
                                "effects, alerts)."),
    poll: float = typer.Option(5.0, "--poll", min=0.1, help="Seconds between two looks at the outbox."),
    model: str = typer.Option(None, "--model", help="Model URI (default: $RETURNRISK_MODEL_URI, else "
                              f"{DEFAULT_MODEL_URI})."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI."),
    as_json: bool = typer.Option(False, "--json", help="With --once: end with one JSON line (what was done)."),
) -> None:
    """The periodic work, in one process per deployment: detect newly flagged products, measure done
    fixes, raise alerts and deliver them to RETURNRISK_ALERT_WEBHOOK_URLS (retries with backoff).

    Run it beside the API (never inside its workers); settings as for `returnrisk serve`.
    """
    from dataclasses import asdict

    from returnrisk.cli.model_commands import tracker_for
    from returnrisk.config import read_settings
    from returnrisk.lifecycle.settings import AlertSettings
    from returnrisk.lifecycle.worker import Worker, WorkerConfig
    from returnrisk.serving.settings import Settings

    settings = read_settings(Settings)
    alert_settings = read_settings(AlertSettings)
    uri = model or settings.model_uri
    tracker = tracker_for(tracking_uri or settings.tracking_uri)
    cache: dict = {}

    def load_model():
        ref = tracker.resolve(uri)   # the champion may have changed since the last detection
        if cache.get("version") != (ref.version, ref.run_id) or "bundle" not in cache:
            bundle, ref = tracker.load_bundle(uri)
            cache.update(version=(ref.version, ref.run_id), bundle=bundle,
                         info={"version": ref.version, "alias": ref.alias, "uri": ref.uri})
        return cache["bundle"], cache["info"]

    config = WorkerConfig(database_url=settings.database_url, data_dir=settings.data_dir,
                          economics=settings.economics, alerts=alert_settings, detect_every_seconds=every,
                          poll_seconds=poll)
    worker = Worker(config, load_model)
    out = err_console if as_json else console
    try:
        if once:
            detected, delivered = worker.run_once()
            out.print(f"{detected.suggestions} suggestions, {detected.done} done fixes ({detected.measured} measured), "
                      f"{detected.alerts} alerts hold, {len(detected.new_alerts)} new; delivered {delivered.sent}, "
                      f"failed {delivered.failed}")
            if as_json:
                print_json_line({"detected": asdict(detected), "delivered": asdict(delivered)})
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        console.print(f"worker: detecting every {every:g} s, {len(alert_settings.webhook_urls)} webhook(s); "
                      "Ctrl-C to stop")
        worker.run(stop)
    finally:
        worker.close()
