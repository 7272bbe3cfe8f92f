"""Storefront widget events: a count per product, size and event (``POST /v1/events``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

A new table only; downgrade drops it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returnrisk_widget_events",
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("size", sa.String(50), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "size", "event", name="pk_returnrisk_widget_events"),
        sa.CheckConstraint("count >= 0", name="widget_event_count_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("returnrisk_widget_events")
