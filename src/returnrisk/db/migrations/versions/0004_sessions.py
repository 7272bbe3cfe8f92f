"""Dashboard sessions (revocable), failed logins (the throttle), forgotten customers (issue 18).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Three new tables, nothing altered: ``returnrisk_sessions`` (a row per dashboard login; logout
sets ``revoked_at``; ``label`` names who logged in), ``returnrisk_login_failures`` (counted per
client address and in all over the throttle's window) and ``returnrisk_forgotten_customers``
(keyed hashes of the customers erased by ``returnrisk forget``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returnrisk_sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_returnrisk_sessions_expires_at", "returnrisk_sessions", ["expires_at"])
    op.create_table(
        "returnrisk_login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_returnrisk_login_failures_failed_at", "returnrisk_login_failures", ["failed_at"])
    op.create_index("ix_returnrisk_login_failures_client", "returnrisk_login_failures", ["client", "failed_at"])
    op.create_table(
        "returnrisk_forgotten_customers",
        sa.Column("customer_hash", sa.String(64), primary_key=True),
        sa.Column("forgotten_at", sa.DateTime(), nullable=False),
        sa.Column("returns_erased", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("returnrisk_forgotten_customers")
    op.drop_index("ix_returnrisk_login_failures_client", table_name="returnrisk_login_failures")
    op.drop_index("ix_returnrisk_login_failures_failed_at", table_name="returnrisk_login_failures")
    op.drop_table("returnrisk_login_failures")
    op.drop_index("ix_returnrisk_sessions_expires_at", table_name="returnrisk_sessions")
    op.drop_table("returnrisk_sessions")
