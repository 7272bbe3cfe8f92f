"""Partial returns: a line may come back in several returns, each with its ``return_id`` and ``quantity``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Before: one row per returned line (``line_id`` the primary key). After: one row per return event,
keyed by ``(line_id, return_id)``; ``quantity`` is the units returned (NULL = the whole line).

Every existing row is kept: it gets the return id derived from its line — ``'line:' || line_id``,
the id :func:`returnrisk.operations.return_events.derived_return_id` gives a return recorded
without one, so a client that repeats an old event still meets it — and ``quantity`` NULL (the
whole line, as it meant). The table is rebuilt (create, copy, drop, rename): SQLite cannot change
a primary key in place, and the same portable steps run on PostgreSQL (check constraint names
are per table there, so the copy's checks keep the schema's names).

Downgrade refuses when a line has several returns or a partial one (they cannot be expressed in
the old table); otherwise it drops the two columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "returnrisk_returns"
_NEW = "returnrisk_returns_0002"
_OLD = "returnrisk_returns_0001"
#: Must equal returnrisk.operations.return_events.DERIVED_PREFIX (a test checks it).
DERIVED_PREFIX = "line:"

_COMMON = ("returned_at", "reason_code", "reason_text", "reason_code_inferred", "reason_confidence", "reason_review",
           "channel", "refunded_at", "return_cost", "recorded_at", "updated_at")


def _common_columns() -> list[sa.Column]:
    return [
        sa.Column("returned_at", sa.DateTime(), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("reason_code_inferred", sa.String(40), nullable=True),
        sa.Column("reason_confidence", sa.Float(), nullable=True),
        sa.Column("reason_review", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("refunded_at", sa.DateTime(), nullable=True),
        sa.Column("return_cost", sa.Float(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def _lightweight(name: str, *extra: str) -> sa.TableClause:
    types = {"line_id": sa.String(200), "return_id": sa.String(255), "quantity": sa.Integer()}
    return sa.table(name, *(sa.column(c, types.get(c)) for c in ("line_id", *extra, *_COMMON)))


def upgrade() -> None:
    op.create_table(
        _NEW,
        sa.Column("line_id", sa.String(200), nullable=False),
        sa.Column("return_id", sa.String(255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        *_common_columns(),
        sa.PrimaryKeyConstraint("line_id", "return_id", name="pk_returnrisk_returns"),
        sa.CheckConstraint("return_cost IS NULL OR return_cost >= 0", name="return_cost_not_negative"),
        sa.CheckConstraint("quantity IS NULL OR quantity >= 1", name="return_quantity_positive"),
    )
    old = _lightweight(TABLE)
    new = _lightweight(_NEW, "return_id", "quantity")
    derived = sa.literal(DERIVED_PREFIX, sa.String(255)) + old.c.line_id
    select = sa.select(old.c.line_id, derived, sa.null(), *(old.c[c] for c in _COMMON))
    op.execute(new.insert().from_select(["line_id", "return_id", "quantity", *_COMMON], select))
    op.drop_table(TABLE)
    op.rename_table(_NEW, TABLE)


def downgrade() -> None:
    table = _lightweight(TABLE, "return_id", "quantity")
    bind = op.get_bind()
    several = bind.execute(sa.select(sa.func.count()).select_from(
        sa.select(table.c.line_id).group_by(table.c.line_id).having(sa.func.count() > 1).subquery())).scalar_one()
    partial = bind.execute(sa.select(sa.func.count()).select_from(table).where(table.c.quantity.is_not(None))).scalar_one()
    if several or partial:
        raise RuntimeError(
            f"cannot go back to revision 0001: {several} lines have several returns and {partial} returns have a "
            "quantity, which the old table cannot hold — export them first (returnrisk export-returns)")
    op.create_table(
        _OLD,
        sa.Column("line_id", sa.String(200), primary_key=True),
        *_common_columns(),
        sa.CheckConstraint("return_cost IS NULL OR return_cost >= 0", name="return_cost_not_negative"),
    )
    old = _lightweight(_OLD)
    op.execute(old.insert().from_select(["line_id", *_COMMON],
                                        sa.select(table.c.line_id, *(table.c[c] for c in _COMMON))))
    op.drop_table(TABLE)
    op.rename_table(_OLD, TABLE)
