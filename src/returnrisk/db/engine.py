"""Engines of the service database: URL checks, SQLite durability pragmas, PostgreSQL pre-ping.

``url`` is any SQLAlchemy 2 URL: ``sqlite:///returnrisk-returns.db`` (the default, a file in the
working directory) or ``postgresql+psycopg://user@host/db`` (install ``returnrisk[postgres]``).
"""

from __future__ import annotations

import sqlalchemy as sa

from returnrisk.errors import InputError

__all__ = ["DatabaseUrlError", "make_engine", "make_migration_engine", "parse_url", "shown_url"]

_EXAMPLES = "sqlite:///returnrisk-returns.db or postgresql+psycopg://user@host/db"


class DatabaseUrlError(InputError, ValueError):
    """The database URL is not a SQLAlchemy URL."""

    code = "invalid_database_url"


def parse_url(url: str, label: str = "database") -> sa.engine.URL:
    """The parsed URL, or :class:`DatabaseUrlError` saying what a URL looks like."""
    try:
        return sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseUrlError(f"{label} URL {url!r} is not a SQLAlchemy URL ({exc}): use e.g. {_EXAMPLES}") from None


def shown_url(url: str | sa.engine.URL) -> str:
    """The URL as it may be logged or shown (password hidden)."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, *, label: str = "database", echo: bool = False) -> sa.engine.Engine:
    """The engine the service reads and writes with.

    SQLite: WAL (readers do not block the writer), full fsync on commit (an acknowledged write
    survives a crash), 30 s busy time-out, usable from any thread. Others: connections are
    checked before use (a restarted server does not fail the next request).
    """
    parsed = parse_url(url, label)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, echo=echo, pool_pre_ping=True)
    engine = sa.create_engine(parsed, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_migration_engine(url: str | sa.engine.URL) -> sa.engine.Engine:
    """An engine whose transactions make schema changes atomic and one at a time.

    SQLite: the driver's own transaction handling is turned off and every transaction starts
    with ``BEGIN IMMEDIATE`` (it takes the write lock, so DDL is transactional and two processes
    upgrading at once run one after the other). PostgreSQL has transactional DDL; the migration
    code takes an advisory lock for the same reason (see :mod:`returnrisk.db.migrate`).
    """
    parsed = url if isinstance(url, sa.engine.URL) else parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None   # no implicit BEGIN/COMMIT by the driver
        _sqlite_pragmas(dbapi_connection, connection_record)

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()
