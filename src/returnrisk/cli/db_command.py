"""``returnrisk db upgrade``: bring the service database to this version's schema (Alembic migrations)."""

from __future__ import annotations

import typer

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.errors import InputError

__all__ = ["db_app", "database_url"]

db_app = typer.Typer(help="The service database (RETURNRISK_DATABASE_URL): its schema and migrations.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")

DB_HELP = ("Service database URL (default $RETURNRISK_DATABASE_URL, else $RETURNRISK_RETURNS_DB_URL, else "
           "sqlite:///returnrisk-returns.db).")


def database_url(option: str | None) -> str:
    """``--db`` if given, else the service's setting (environment or .env)."""
    if option:
        return option
    from returnrisk.serving.settings import Settings

    return Settings().database_url


@db_app.command("upgrade")
def upgrade_command(
    db: str = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line: database, before, after, stamped."),
) -> None:
    """Upgrade the service database to this version's schema (safe to run again; back it up first).

    A database made before migrations existed is recognised and stamped (nothing rewritten); an
    empty one is created. Stop the service, upgrade, start the new version.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from returnrisk.db import upgrade
    from returnrisk.db.engine import parse_url, shown_url

    url = database_url(db)
    parse_url(url)  # a clear error for a URL that is not one
    shown = shown_url(url)
    try:
        result = upgrade(url)
    except SQLAlchemyError as exc:
        raise InputError(f"cannot upgrade the database {shown}: {str(exc).splitlines()[0]} — check --db or "
                         "RETURNRISK_DATABASE_URL (and that the folder exists and is writable)") from None
    (err_console if as_json else console).print(f"{shown}: {result.describe()}")
    if as_json:
        print_json_line({"database": shown, "before": result.before, "after": result.after,
                         "stamped": result.stamped})
