"""The service database: its URL, its tables, and the migrations that own its schema.

One database (``RETURNRISK_DATABASE_URL``; the old name ``RETURNRISK_RETURNS_DB_URL`` is still
read) holds what the service records: today the returns of ``POST /v1/returns``; later fix
statuses, portal returns, webhook events, alerts. SQLite by default, PostgreSQL in production.

* :mod:`~returnrisk.db.engine` — engines (URL check, SQLite durability pragmas, pre-ping).
* :mod:`~returnrisk.db.schema` — the tables as the code uses them (``metadata``).
* :mod:`~returnrisk.db.migrate` — Alembic: :func:`schema_status`, :func:`upgrade` (the verb
  ``returnrisk db upgrade``), :func:`ensure_schema` (the service's start-up check: an empty
  database is created, one that is behind is refused with a line naming ``returnrisk db upgrade``).
* ``migrations/versions/`` — one file per revision, ``0001_returns.py`` first, in one line.

Adding a table (or a column) in a later issue
---------------------------------------------
1. Declare it in :mod:`returnrisk.db.schema` on ``metadata`` (portable types only: ``sa.String(n)``,
   ``sa.Text``, ``sa.Integer``, ``sa.BigInteger``, ``sa.Float``, ``sa.Boolean``, ``sa.DateTime``
   via :class:`~returnrisk.db.schema.UTCDateTime`, ``sa.JSON``; name check constraints).
2. Write its migration: ``python -m returnrisk.db.migrate "fix statuses"`` writes
   ``migrations/versions/0002_fix_statuses.py`` with the operations Alembic finds between the
   head and ``metadata``. Read it: keep it to ``op.create_table`` / ``op.add_column`` /
   ``op.create_index`` and, to alter an existing table, ``with op.batch_alter_table(name) as t:``
   (SQLite cannot ALTER constraints; on PostgreSQL it is a plain ALTER). No raw SQL of one
   dialect. A new NOT NULL column on a table with rows needs a ``server_default``.
3. Run ``pytest tests/test_db.py``: it upgrades an empty database and checks the result equals
   ``metadata`` (a table without its migration fails), that there is one head, and that a
   database of every earlier revision upgrades. Two branches that each add ``0002`` give two
   heads: renumber one (``down_revision``) when merging.
4. Nothing else: the service refuses to start on a database that is behind, and
   ``returnrisk db upgrade`` (or ``make demo``) brings it up.

Query the tables with SQLAlchemy Core (``sa.select(table)``, ``engine.begin()``), as
:class:`returnrisk.operations.store.ReturnStore` does; one module per table family.
"""

from __future__ import annotations

from returnrisk.db.engine import DatabaseUrlError, make_engine, shown_url
from returnrisk.db.migrate import (
    DatabaseBehind,
    DatabaseNotRecognised,
    SchemaStatus,
    UpgradeResult,
    ensure_schema,
    head_revision,
    schema_status,
    upgrade,
)
from returnrisk.db.schema import metadata

__all__ = [
    "DatabaseBehind",
    "DatabaseNotRecognised",
    "DatabaseUrlError",
    "SchemaStatus",
    "UpgradeResult",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "metadata",
    "schema_status",
    "shown_url",
    "upgrade",
]
