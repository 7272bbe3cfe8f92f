"""The returns recorded as they happen (the schema before migrations, created by ``create_all``).

Revision ID: 0001
Revises:
Create Date: 2026-11-30

A database made by returnrisk before migrations existed has exactly this table and no version
table: ``returnrisk db upgrade`` recognises it and stamps it at this revision (nothing is
rewritten). Portable types only: the same DDL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returnrisk_returns",
        sa.Column("line_id", sa.String(200), primary_key=True),
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
        sa.CheckConstraint("return_cost IS NULL OR return_cost >= 0", name="return_cost_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("returnrisk_returns")
