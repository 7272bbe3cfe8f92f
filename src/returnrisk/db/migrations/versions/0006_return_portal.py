"""Return capture where customers are (issue 16): portal and e-mail returns, photos, inbox, review list.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Tables for what the returns table does not hold: the exchange offered and chosen with the size
asked (``returnrisk_customer_returns``), the photos' metadata (``returnrisk_return_photos``), the
e-mails processed (``returnrisk_inbox_messages``) and the review list (``returnrisk_review_returns``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returnrisk_customer_returns",
        sa.Column("return_id", sa.String(200), primary_key=True),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("line_id", sa.String(200), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=True),
        sa.Column("resolution", sa.String(20), nullable=False),
        sa.Column("exchange_offered", sa.Boolean(), nullable=False),
        sa.Column("size_ordered", sa.String(40), nullable=True),
        sa.Column("size_offered", sa.String(40), nullable=True),
        sa.Column("size_asked", sa.String(40), nullable=True),
        sa.Column("offer_source", sa.String(20), nullable=True),
        sa.Column("unit_price", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("lang", sa.String(2), nullable=True),
        sa.Column("review", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name="customer_return_quantity_positive"),
    )
    op.create_index("ix_returnrisk_customer_returns_request_id", "returnrisk_customer_returns", ["request_id"])
    op.create_index("ix_returnrisk_customer_returns_line_id", "returnrisk_customer_returns", ["line_id"])
    op.create_table(
        "returnrisk_return_photos",
        sa.Column("photo_id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("line_id", sa.String(200), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_returnrisk_return_photos_request_id", "returnrisk_return_photos", ["request_id"])
    op.create_table(
        "returnrisk_inbox_messages",
        sa.Column("message_id", sa.String(500), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "returnrisk_review_returns",
        sa.Column("review_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(500), nullable=True),
        sa.Column("why", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("order_number", sa.String(200), nullable=True),
        sa.Column("order_id", sa.String(200), nullable=True),
        sa.Column("reason_code_inferred", sa.String(40), nullable=True),
        sa.Column("reason_confidence", sa.Float(), nullable=True),
        sa.Column("return_ids", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_returnrisk_review_returns_message_id", "returnrisk_review_returns", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_returnrisk_review_returns_message_id", "returnrisk_review_returns")
    op.drop_table("returnrisk_review_returns")
    op.drop_table("returnrisk_inbox_messages")
    op.drop_index("ix_returnrisk_return_photos_request_id", "returnrisk_return_photos")
    op.drop_table("returnrisk_return_photos")
    op.drop_index("ix_returnrisk_customer_returns_line_id", "returnrisk_customer_returns")
    op.drop_index("ix_returnrisk_customer_returns_request_id", "returnrisk_customer_returns")
    op.drop_table("returnrisk_customer_returns")
