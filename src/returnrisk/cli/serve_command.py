"""``returnrisk serve``: the API on uvicorn."""

from __future__ import annotations

import os

import typer

from returnrisk.cli import app
from returnrisk.cli.console import console
from returnrisk.config import DEFAULT_MODEL_URI
from returnrisk.errors import InputError

__all__ = ["serve"]


def _check_database(url: str) -> None:
    """Before the workers start: an empty database is created; one that is behind stops here, in one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from returnrisk.db import ensure_schema, make_engine, shown_url

    engine = make_engine(url, label="RETURNRISK_DATABASE_URL: database")
    try:
        ensure_schema(engine)  # DatabaseBehind: "… run `returnrisk db upgrade` …"
    except SQLAlchemyError as exc:
        raise InputError(f"the service database {shown_url(url)} cannot be opened: {str(exc).splitlines()[0]} — "
                         "check RETURNRISK_DATABASE_URL (and that its folder exists and is writable)") from None
    finally:
        engine.dispose()


@app.command("serve")
def serve(
    model: str = typer.Option(None, "--model", help="Model URI (default: $RETURNRISK_MODEL_URI, else "
                              f"{DEFAULT_MODEL_URI})."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (each loads the model)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: "
                                     "$MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the API. Settings come from RETURNRISK_* environment variables and .env (see docs/serving.md)."""
    import uvicorn

    from returnrisk.config import read_settings
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
    _check_database(settings.database_url)
    from returnrisk.tracking import Tracker

    ref = Tracker(settings.tracking_uri).resolve(settings.model_uri)  # refuse to start without a model
    console.print(f"serving {settings.model_uri} (version {ref.version or '?'}) on http://{host}:{port} "
                  f"with {workers} worker(s) — docs at http://{host}:{port}/docs")
    uvicorn.run("returnrisk.serving.asgi:app", host=host, port=port, workers=workers, log_level=log_level,
                http=NoDelayHttpProtocol, loop="uvloop", access_log=False, timeout_graceful_shutdown=10)
