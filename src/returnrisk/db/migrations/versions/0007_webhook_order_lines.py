"""Order lines received by the Shopify webhook (``POST /v1/webhooks/shopify``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

One row per order line the platform sent (``orders/create``, ``orders/updated``), in the data
contract's ``order_lines`` columns, so that a return for an order newer than the shop's files is
accepted and ``returnrisk export-returns`` can hand the lines to training. New table only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "returnrisk_webhook_order_lines"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("line_id", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("size", sa.String(100), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=True),
        sa.Column("ordered_at", sa.DateTime(), nullable=False),
        sa.Column("order_number", sa.String(100), nullable=True),
        sa.Column("currency", sa.String(10), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("brand", sa.String(200), nullable=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("order_updated_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("line_id", name="pk_returnrisk_webhook_order_lines"),
        sa.CheckConstraint("quantity >= 1", name="webhook_line_quantity_positive"),
    )
    op.create_index("ix_returnrisk_webhook_order_lines_order_id", TABLE, ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_returnrisk_webhook_order_lines_order_id", table_name=TABLE)
    op.drop_table(TABLE)
