"""The schema's revisions (Alembic): where a database stands, its upgrade, the start-up check.

* :func:`schema_status` — the revision a database is at, compared with this code's head.
* :func:`upgrade` — ``returnrisk db upgrade``: brings a database to the head revision, in one
  transaction, one process at a time (SQLite ``BEGIN IMMEDIATE``; PostgreSQL advisory lock). A
  database made by ``create_all`` before migrations existed (the returns table, no version
  table) is recognised and stamped at the baseline revision first: nothing is rewritten.
* :func:`ensure_schema` — the service's start-up check: a database at the head is used; an
  empty one (a first start, ``make demo``) is created at the head; any other state — behind, made
  before migrations, or at a revision this code does not know — is refused with one line that
  says what to run. Upgrading a database that holds data is the operator's decision (back it
  up, stop the other processes): the service never does it on its own.
* :func:`new_revision` — for developers: writes the next migration file (see :mod:`returnrisk.db`).
"""

from __future__ import annotations

import logging
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from returnrisk.db.engine import make_migration_engine, shown_url
from returnrisk.db.schema import RETURNS_TABLE, VERSION_TABLE, metadata
from returnrisk.errors import UnavailableError

__all__ = [
    "BASELINE",
    "MIGRATIONS",
    "SchemaStatus",
    "UpgradeResult",
    "DatabaseBehind",
    "DatabaseNotRecognised",
    "head_revision",
    "schema_status",
    "upgrade",
    "ensure_schema",
    "new_revision",
]

log = logging.getLogger(__name__)
if logging.getLogger("alembic").level == logging.NOTSET:
    # Alembic's step-by-step INFO lines ("Context impl SQLiteImpl", …) would drown the one line
    # :func:`upgrade` logs; set the "alembic" logger's level to see them
    logging.getLogger("alembic").setLevel(logging.WARNING)

#: The migration scripts, shipped inside the package.
MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision equal to the schema made by ``create_all`` before migrations existed.
BASELINE = "0001"
#: Key of the PostgreSQL advisory lock held while migrating ("rrdb").
_LOCK_KEY = 0x72726462
#: Columns of the returns table as ``create_all`` made it (what a database is stamped on).
_BASELINE_COLUMNS = frozenset({
    "line_id", "returned_at", "reason_code", "reason_text", "reason_code_inferred", "reason_confidence",
    "reason_review", "channel", "refunded_at", "return_cost", "recorded_at", "updated_at",
})
_UPGRADE = "run `returnrisk db upgrade` (with RETURNRISK_DATABASE_URL set as for the service; back the database up first)"


class DatabaseBehind(UnavailableError):
    """The database's schema is older than this code's: ``returnrisk db upgrade`` brings it up."""

    code = "database_behind"


class DatabaseNotRecognised(UnavailableError):
    """The database is at a revision this code does not know, or holds tables it did not make."""

    code = "database_not_recognised"


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands. ``current`` is ``None`` when it has no version table."""

    url: str
    current: str | None
    head: str
    legacy: bool   # returnrisk tables without a version table: made by create_all before migrations
    empty: bool    # no returnrisk table and no version table
    known: bool    # ``current`` is a revision of this code (or None)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.up_to_date:
            return f"{self.url} is at revision {self.current} (up to date)"
        if self.empty:
            return f"{self.url} is empty (head revision {self.head})"
        if self.legacy:
            return f"{self.url} was made before migrations existed (head revision {self.head})"
        if not self.known:
            return f"{self.url} is at revision {self.current}, unknown to this version of returnrisk"
        return f"{self.url} is at revision {self.current}, behind the head revision {self.head}"


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None
    after: str
    stamped: bool  # a database made before migrations was adopted at the baseline

    def describe(self) -> str:
        if self.stamped:
            return (f"made before migrations: stamped at revision {BASELINE} (nothing rewritten), "
                    f"now at {self.after}")
        if self.before == self.after:
            return f"already at revision {self.after}: nothing to do"
        return f"upgraded from revision {self.before or 'none (empty)'} to {self.after}"


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The head revision of this code (the migrations form one line: one head)."""
    return _scripts().get_current_head()


def _config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _current(connection: sa.Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _status(connection: sa.Connection) -> SchemaStatus:
    tables = set(sa.inspect(connection).get_table_names())
    ours = tables & set(metadata.tables)
    versioned = VERSION_TABLE in tables
    current = _current(connection) if versioned else None
    return SchemaStatus(url=shown_url(connection.engine.url), current=current, head=head_revision(),
                        legacy=not versioned and bool(ours), empty=not versioned and not ours,
                        known=_is_revision(current))


def _is_revision(current: str | None) -> bool:
    if current is None:
        return True
    try:
        _scripts().get_revision(current)
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return False
    return True


def schema_status(engine: sa.Engine) -> SchemaStatus:
    """Where ``engine``'s database stands (reads only)."""
    with engine.connect() as connection:
        return _status(connection)


@contextmanager
def _migration_connection(url: str | sa.URL):
    """A connection in a transaction that no other migrating process shares."""
    engine = make_migration_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield connection
    finally:
        engine.dispose()


def _adopt_legacy(connection: sa.Connection, status: SchemaStatus) -> None:
    columns = {c["name"] for c in sa.inspect(connection).get_columns(RETURNS_TABLE)} \
        if RETURNS_TABLE in sa.inspect(connection).get_table_names() else set()
    missing = sorted(_BASELINE_COLUMNS - columns)
    if missing:
        raise DatabaseNotRecognised(
            f"{status.url} has returnrisk tables but not the schema returnrisk made before migrations "
            f"(table {RETURNS_TABLE} lacks {', '.join(missing)}): it cannot be adopted — move it aside or set "
            "RETURNRISK_DATABASE_URL to a new database")
    command.stamp(_config(connection), BASELINE)


def upgrade(url: str | sa.URL, revision: str = "head") -> UpgradeResult:
    """Bring the database at ``url`` to ``revision`` (see the module docstring); returns what was done."""
    with _migration_connection(url) as connection:
        status = _status(connection)
        if not status.known:
            raise DatabaseNotRecognised(f"{status.describe()}: upgrade returnrisk, or set RETURNRISK_DATABASE_URL "
                                        "to the database of this version")
        if status.legacy:
            _adopt_legacy(connection, status)
        command.upgrade(_config(connection), revision)
        after = _current(connection)
    result = UpgradeResult(status.current, after, status.legacy)
    log.info("service database %s: %s", status.url, result.describe())
    return result


def ensure_schema(engine: sa.Engine, *, create_empty: bool = True) -> SchemaStatus:
    """The start-up check (see the module docstring): returns the status or raises one clear line."""
    status = schema_status(engine)
    if status.up_to_date:
        return status
    if status.empty and create_empty:
        result = upgrade(engine.url)  # re-checks under the lock: a process that got there first wins
        log.info("service database %s created at revision %s", status.url, result.after)
        return schema_status(engine)
    if not status.known:
        raise DatabaseNotRecognised(f"the service database {status.describe()}: upgrade returnrisk, or set "
                                    "RETURNRISK_DATABASE_URL to the database of this version")
    raise DatabaseBehind(f"the service database {status.describe()}: {_UPGRADE}")


def _next_revision_id() -> str:
    numbers = [int(s.revision) for s in _scripts().walk_revisions() if re.fullmatch(r"\d+", s.revision)]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(message: str, *, autogenerate: bool = True) -> Path:
    """Write the next migration (``versions/000N_<message>.py``) and return its path.

    With ``autogenerate`` its operations are what :mod:`returnrisk.db.schema` has that the
    current head does not (compared on a scratch SQLite database): review them before committing.
    """
    with tempfile.TemporaryDirectory(prefix="returnrisk-revision-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'head.db'}"
        upgrade(url)
        with _migration_connection(url) as connection:
            script = command.revision(_config(connection), message=message, autogenerate=autogenerate,
                                      rev_id=_next_revision_id())
    _scripts.cache_clear()
    return Path(script.path)


if __name__ == "__main__":  # python -m returnrisk.db.migrate "add fix statuses"
    import sys

    print(new_revision(" ".join(sys.argv[1:]) or "new revision"))
