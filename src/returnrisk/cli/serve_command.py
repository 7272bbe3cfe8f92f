"""``returnrisk serve``: the API on uvicorn, with one or several worker processes.

Before any worker starts, everything that would make them all fail is checked once and reported
in one line (exit 2): the settings, the service database (missing or read-only folder, not a
database, behind its migrations) and the model (no champion, a damaged artifact). Then uvicorn
starts the workers with: the JSON or text log format for every logger (uvicorn's own lines too),
no ``Server`` header, and the Prometheus multiprocess folder so one scrape of ``/metrics`` covers
every worker.
"""

from __future__ import annotations

import os
import tempfile

import typer

from returnrisk.cli import app
from returnrisk.cli.console import console
from returnrisk.config import DEFAULT_MODEL_URI
from returnrisk.errors import InputError, ReturnRiskError

__all__ = ["serve", "check_database", "check_model"]


def check_database(url: str) -> None:
    """An empty database is created; a missing or read-only folder, a file that is not a database,
    or a schema that is behind stops here, in one line naming the setting."""
    from sqlalchemy.exc import SQLAlchemyError

    from returnrisk.db import ensure_schema, make_engine, shown_url

    engine = make_engine(url, label="RETURNRISK_DATABASE_URL: database")
    _check_sqlite_folder(engine.url)
    try:
        ensure_schema(engine)  # DatabaseBehind: "… run `returnrisk db upgrade` …"
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        hint = "point RETURNRISK_DATABASE_URL at a returnrisk database (or a new file)" \
            if "not a database" in reason else "check RETURNRISK_DATABASE_URL (and that the server is reachable)"
        raise InputError(f"the service database {shown_url(url)} cannot be opened ({reason}): {hint}") from None
    finally:
        engine.dispose()


def _check_sqlite_folder(url) -> None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    from pathlib import Path

    folder = Path(url.database).expanduser().resolve().parent
    if not folder.is_dir():
        raise InputError(f"RETURNRISK_DATABASE_URL: the folder {folder} of the service database does not exist: "
                         "create it, or set RETURNRISK_DATABASE_URL to a file in an existing folder")
    target = Path(url.database).expanduser().resolve()
    try:   # try for real: permission bits say nothing for root or on a read-only file system
        if target.exists():
            with open(target, "ab"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".returnrisk-write-check-"):
                pass
    except OSError as exc:
        what = target if target.exists() else folder
        raise InputError(f"RETURNRISK_DATABASE_URL: {what} is read-only for this user ({exc.strerror}): the service "
                         "writes returns and sessions there — make it writable, or set RETURNRISK_DATABASE_URL to a "
                         "writable place") from None


def check_model(settings) -> str | None:
    """Load the model once (no precomputation) so that a missing champion or a damaged artifact stops
    here, in one line; returns its version."""
    from returnrisk.tracking import Tracker

    tracker = Tracker(settings.tracking_uri)
    bundle, ref = tracker.load_bundle(settings.model_uri)
    del bundle
    return ref.version


@app.command("serve")
def serve(
    model: str = typer.Option(None, "--model", help="Model URI (default: $RETURNRISK_MODEL_URI, else "
                              f"{DEFAULT_MODEL_URI})."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, envvar="RETURNRISK_WORKERS",
                                help="Worker processes (each loads the model and follows the registry alias: "
                                "RETURNRISK_MODEL_POLL_SECONDS)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: "
                                     "$MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)."),
    log_level: str = typer.Option("info", "--log-level", help="Log level of the service and uvicorn."),
) -> None:
    """Serve the API. Settings come from RETURNRISK_* environment variables and .env (see docs/serving.md)."""
    import gc

    import uvicorn

    from returnrisk.config import read_settings
    from returnrisk.serving.logs import logging_config
    from returnrisk.serving.metrics import prepare_multiprocess_dir
    from returnrisk.serving.protocol import NoDelayHttpProtocol
    from returnrisk.serving.settings import Settings

    if model:
        os.environ["RETURNRISK_MODEL_URI"] = model
    # uvicorn workers re-import the app: hand them the choices through the environment
    if tracking_uri:
        os.environ["RETURNRISK_TRACKING_URI"] = tracking_uri
    elif "RETURNRISK_TRACKING_URI" not in os.environ and os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["RETURNRISK_TRACKING_URI"] = os.environ["MLFLOW_TRACKING_URI"]
    settings = read_settings(Settings)
    check_database(settings.database_url)
    try:
        version = check_model(settings)   # refuse to start without a model, or with a damaged one
    except ReturnRiskError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a tracking store that is not a database
        raise InputError(f"the model {settings.model_uri} cannot be read from the tracking store "
                         f"{settings.tracking_uri or 'sqlite:///mlruns/mlflow.db'} ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}): check RETURNRISK_TRACKING_URI "
                         "(--tracking-uri)") from None
    gc.collect()
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        folder = settings.metrics_dir or tempfile.mkdtemp(prefix="returnrisk-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prepare_multiprocess_dir(folder))
    console.print(f"serving {settings.model_uri} (version {version or '?'}) on http://{host}:{port} "
                  f"with {workers} worker(s) — docs at http://{host}:{port}/docs")
    uvicorn.run("returnrisk.serving.asgi:app", host=host, port=port, workers=workers, log_level=log_level,
                log_config=logging_config(settings.log_format, log_level, settings.access_log),
                http=NoDelayHttpProtocol, loop="uvloop", access_log=settings.access_log, server_header=False,
                timeout_graceful_shutdown=10,
                # a worker loading a model holds the GIL for seconds (parsing boosters, freezing the collector):
                # uvicorn's 5 s ping would take it for hung and kill it, again and again
                timeout_worker_healthcheck=60)
