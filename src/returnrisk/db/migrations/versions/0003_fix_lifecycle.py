"""Fix lifecycle: fix statuses with their audit trail, alerts and their outbox (issue 17).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

* ``returnrisk_fix_status_changes`` — every status change of a fix, appended, never rewritten;
* ``returnrisk_fix_statuses`` — the current status of each changed fix (its latest change);
* ``returnrisk_alerts`` — alerts, once each (their id says what they are about);
* ``returnrisk_alert_deliveries`` — the outbox: one row per alert and webhook destination.

Portable types only: the same DDL runs on SQLite and PostgreSQL. (``down_revision`` is 0002: it follows the partial returns of the returns store.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returnrisk_fix_status_changes",
        sa.Column("change_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fix_id", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("size", sa.String(100), nullable=True),
        sa.Column("lever", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("live_at", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("dismiss_reason", sa.String(20), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("suggestion", sa.JSON(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'in_progress', 'done', 'dismissed')", name="fix_status_known"),
        sa.PrimaryKeyConstraint("change_id"),
    )
    op.create_index("ix_returnrisk_fix_status_changes_fix_id", "returnrisk_fix_status_changes", ["fix_id"])
    op.create_table(
        "returnrisk_fix_statuses",
        sa.Column("fix_id", sa.String(32), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(["change_id"], ["returnrisk_fix_status_changes.change_id"],
                                name="fk_returnrisk_fix_statuses_change_id"),
        sa.PrimaryKeyConstraint("fix_id"),
    )
    op.create_table(
        "returnrisk_alerts",
        sa.Column("alert_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=True),
        sa.Column("fix_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    op.create_index("ix_returnrisk_alerts_created_at", "returnrisk_alerts", ["created_at"])
    op.create_table(
        "returnrisk_alert_deliveries",
        sa.Column("alert_id", sa.String(40), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["returnrisk_alerts.alert_id"],
                                name="fk_returnrisk_alert_deliveries_alert_id_returnrisk_alerts"),
        sa.PrimaryKeyConstraint("alert_id", "destination"),
    )
    op.create_index("ix_returnrisk_alert_deliveries_next_attempt_at", "returnrisk_alert_deliveries",
                    ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_returnrisk_alert_deliveries_next_attempt_at", "returnrisk_alert_deliveries")
    op.drop_table("returnrisk_alert_deliveries")
    op.drop_index("ix_returnrisk_alerts_created_at", "returnrisk_alerts")
    op.drop_table("returnrisk_alerts")
    op.drop_table("returnrisk_fix_statuses")
    op.drop_index("ix_returnrisk_fix_status_changes_fix_id", "returnrisk_fix_status_changes")
    op.drop_table("returnrisk_fix_status_changes")
