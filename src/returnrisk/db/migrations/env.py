"""Alembic environment of the service database.

Run by :mod:`returnrisk.db.migrate` with an open connection (``config.attributes["connection"]``,
inside the transaction that holds the migration lock), or by the ``alembic`` command during
development with ``sqlalchemy.url`` set. ``--sql`` (offline) writes the SQL for a DBA instead.
"""

from __future__ import annotations

from alembic import context

from returnrisk.db.engine import make_migration_engine
from returnrisk.db.schema import VERSION_TABLE, metadata

_OPTIONS = {"target_metadata": metadata, "version_table": VERSION_TABLE, "render_as_batch": True,
            "compare_type": True}


def _run(connection) -> None:
    context.configure(connection=connection, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_migration_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


main()
