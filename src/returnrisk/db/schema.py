"""The tables of the service database, as the code uses them (SQLAlchemy Core).

This is the *current* schema; the database gets there through the migrations in
``returnrisk/db/migrations/versions`` (see :mod:`returnrisk.db`). A test checks that upgrading an
empty database gives exactly these tables, so a table added here without its migration fails.

Constraint names follow :data:`NAMING`, the same on SQLite and PostgreSQL (migrations can then
name the constraint they alter).
"""

from __future__ import annotations

from datetime import timezone

import sqlalchemy as sa

__all__ = [
    "metadata", "returns_table", "RETURNS_TABLE", "VERSION_TABLE", "UTCDateTime", "NAMING",
    # issue 17: fix lifecycle and alerts
    "FIX_STATUS_CHANGES_TABLE", "FIX_STATUSES_TABLE", "ALERTS_TABLE", "ALERT_DELIVERIES_TABLE",
    "fix_status_changes_table", "fix_statuses_table", "alerts_table", "alert_deliveries_table",
    "webhook_order_lines_table", "WEBHOOK_ORDER_LINES_TABLE",
    "SESSIONS_TABLE", "sessions_table", "LOGIN_FAILURES_TABLE", "login_failures_table", "FORGOTTEN_TABLE",
    "forgotten_table", "widget_events_table", "WIDGET_EVENTS_TABLE",
    # issue 16: return capture
    "customer_returns_table", "return_photos_table", "inbox_messages_table", "review_returns_table",
]

#: Names of the constraints SQLAlchemy generates (checks and primary keys are left unnamed or
#: named explicitly, as in the first schema, so that databases created before the migrations match).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

RETURNS_TABLE = "returnrisk_returns"

#: Alembic's record of the schema revision (not ``alembic_version``: MLflow's database, which
#: may share a PostgreSQL database with this one, has its own).
VERSION_TABLE = "returnrisk_schema_version"


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in, naive UTC in the database, aware UTC out (any backend).

    Its column type is a plain ``DateTime`` (migrations write ``sa.DateTime()``).
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


#: Returns recorded as they happen (``POST /v1/returns``, webhooks, the portal): one row per return
#: event of a line — a line may come back in several parts, each its own ``return_id`` (revision
#: 0002; before it, ``line_id`` alone was the key). ``quantity`` NULL means the whole line.
returns_table = sa.Table(
    RETURNS_TABLE,
    metadata,
    sa.Column("line_id", sa.String(200), nullable=False),
    sa.Column("return_id", sa.String(255), nullable=False),
    sa.Column("quantity", sa.Integer(), nullable=True),
    sa.Column("returned_at", UTCDateTime(), nullable=False),
    sa.Column("reason_code", sa.String(40), nullable=True),
    sa.Column("reason_text", sa.Text(), nullable=True),
    sa.Column("reason_code_inferred", sa.String(40), nullable=True),
    sa.Column("reason_confidence", sa.Float(), nullable=True),
    sa.Column("reason_review", sa.Boolean(), nullable=False, default=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("refunded_at", UTCDateTime(), nullable=True),
    sa.Column("return_cost", sa.Float(), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("line_id", "return_id", name="pk_returnrisk_returns"),
    sa.CheckConstraint("return_cost IS NULL OR return_cost >= 0", name="return_cost_not_negative"),
    sa.CheckConstraint("quantity IS NULL OR quantity >= 1", name="return_quantity_positive"),
)


# ==== issue 17: fix lifecycle (statuses with their audit trail, measured effects) and alerts ====
# (migration 0003_fix_lifecycle.py; tables used by returnrisk.lifecycle)

FIX_STATUS_CHANGES_TABLE = "returnrisk_fix_status_changes"
FIX_STATUSES_TABLE = "returnrisk_fix_statuses"
ALERTS_TABLE = "returnrisk_alerts"
ALERT_DELIVERIES_TABLE = "returnrisk_alert_deliveries"

#: Every status change of a fix, appended, never updated nor deleted: the audit trail.
fix_status_changes_table = sa.Table(
    FIX_STATUS_CHANGES_TABLE,
    metadata,
    sa.Column("change_id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("fix_id", sa.String(32), nullable=False, index=True),
    sa.Column("product_id", sa.String(200), nullable=False),
    sa.Column("size", sa.String(100), nullable=True),
    sa.Column("lever", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    sa.Column("live_at", sa.Date(), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("dismiss_reason", sa.String(20), nullable=True),
    sa.Column("evidence", sa.JSON(), nullable=True),     # the evidence at the change (kept with a dismissal)
    sa.Column("suggestion", sa.JSON(), nullable=True),   # the suggestion's JSON as last known at the change
    sa.CheckConstraint("status IN ('open', 'in_progress', 'done', 'dismissed')", name="fix_status_known"),
)

#: The current status of each fix that was ever changed: its latest change (kept alongside the
#: trail, in the same transaction; a change is written only if this row still points at the
#: change it was decided on — two people changing one fix at once cannot interleave).
fix_statuses_table = sa.Table(
    FIX_STATUSES_TABLE,
    metadata,
    sa.Column("fix_id", sa.String(32), primary_key=True),
    sa.Column("change_id", sa.Integer(), sa.ForeignKey(f"{FIX_STATUS_CHANGES_TABLE}.change_id",
                                                         # the convention's name is longer than PostgreSQL's 63
                                                         name="fk_returnrisk_fix_statuses_change_id"),
              nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
)

#: Alerts, once each (``alert_id`` is derived from what the alert is about: detecting it again
#: finds it there), with the JSON body delivered to webhooks.
alerts_table = sa.Table(
    ALERTS_TABLE,
    metadata,
    sa.Column("alert_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("product_id", sa.String(200), nullable=True),
    sa.Column("fix_id", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
)

#: The outbox: one row per alert and webhook destination (a hash of its URL), sent at least once.
alert_deliveries_table = sa.Table(
    ALERT_DELIVERIES_TABLE,
    metadata,
    sa.Column("alert_id", sa.String(40), sa.ForeignKey(f"{ALERTS_TABLE}.alert_id"), primary_key=True),
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
)


# ---- issue 14: order lines received by the Shopify webhook (revision 0007) ------------------------
WEBHOOK_ORDER_LINES_TABLE = "returnrisk_webhook_order_lines"

#: Order lines the shop's platform sent by webhook (``POST /v1/webhooks/shopify``, ``orders/create``
#: and ``orders/updated``), in the contract's ``order_lines`` columns plus what an export needs to
#: create the product of a line whose product is not in the shop's files (``title``, ``brand``).
#: An order's rows are replaced as a whole by a newer version of the order (``order_updated_at``).
webhook_order_lines_table = sa.Table(
    WEBHOOK_ORDER_LINES_TABLE,
    metadata,
    sa.Column("line_id", sa.String(200), nullable=False),
    sa.Column("order_id", sa.String(200), nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("product_id", sa.String(200), nullable=False),
    sa.Column("size", sa.String(100), nullable=True),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("unit_price", sa.Float(), nullable=True),
    sa.Column("ordered_at", UTCDateTime(), nullable=False),
    sa.Column("order_number", sa.String(100), nullable=True),
    sa.Column("currency", sa.String(10), nullable=True),
    sa.Column("title", sa.Text(), nullable=True),
    sa.Column("brand", sa.String(200), nullable=True),
    sa.Column("platform", sa.String(20), nullable=False),
    sa.Column("order_updated_at", UTCDateTime(), nullable=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("line_id", name="pk_returnrisk_webhook_order_lines"),
    sa.CheckConstraint("quantity >= 1", name="webhook_line_quantity_positive"),
    sa.Index("ix_returnrisk_webhook_order_lines_order_id", "order_id"),
)


# ---- issue 16: return capture where customers are (portal, e-mail) — migration 0006 -----------------
#: What the returns table does not hold about a return declared by a customer (portal, e-mail): its
#: return id and quantity, the form or message it came from, the exchange offered and chosen.
customer_returns_table = sa.Table(
    "returnrisk_customer_returns",
    metadata,
    sa.Column("return_id", sa.String(200), primary_key=True),
    sa.Column("request_id", sa.String(200), nullable=False, index=True),
    sa.Column("line_id", sa.String(200), nullable=False, index=True),
    sa.Column("order_id", sa.String(200), nullable=False),
    sa.Column("product_id", sa.String(200), nullable=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),            # pending (being recorded) | recorded
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("reason_code", sa.String(40), nullable=True),       # as chosen by the customer (None: own words)
    sa.Column("resolution", sa.String(20), nullable=False),       # refund | exchange
    sa.Column("exchange_offered", sa.Boolean(), nullable=False),
    sa.Column("size_ordered", sa.String(40), nullable=True),
    sa.Column("size_offered", sa.String(40), nullable=True),      # the recommended size offered
    sa.Column("size_asked", sa.String(40), nullable=True),        # the size asked for in exchange
    sa.Column("offer_source", sa.String(20), nullable=True),      # size_advice | next_size
    sa.Column("unit_price", sa.Float(), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("lang", sa.String(2), nullable=True),
    sa.Column("review", sa.Boolean(), nullable=False),            # lines to check (e-mail naming no line)
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("quantity >= 1", name="customer_return_quantity_positive"),
)

#: Photos attached to a return ("Arrived damaged"): metadata here, the files beside the database.
return_photos_table = sa.Table(
    "returnrisk_return_photos",
    metadata,
    sa.Column("photo_id", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(200), nullable=False, index=True),
    sa.Column("line_id", sa.String(200), nullable=False),
    sa.Column("file_name", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(40), nullable=False),
    sa.Column("bytes", sa.Integer(), nullable=False),
    sa.Column("width", sa.Integer(), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

#: E-mails the inbox has processed (by Message-ID): a message is never recorded twice.
inbox_messages_table = sa.Table(
    "returnrisk_inbox_messages",
    metadata,
    sa.Column("message_id", sa.String(500), primary_key=True),
    sa.Column("source", sa.String(20), nullable=False),           # imap | maildir | eml
    sa.Column("status", sa.String(20), nullable=False),           # processing | recorded | review
    sa.Column("order_id", sa.String(200), nullable=True),
    sa.Column("received_at", UTCDateTime(), nullable=True),
    sa.Column("processed_at", UTCDateTime(), nullable=False),
)

#: Returns a person must look at: e-mails that could not be matched (nothing recorded), or whose
#: lines were not named (the whole order recorded). Never dropped.
review_returns_table = sa.Table(
    "returnrisk_review_returns",
    metadata,
    sa.Column("review_id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(20), nullable=False),           # email
    sa.Column("message_id", sa.String(500), nullable=True, index=True),
    sa.Column("why", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("subject", sa.Text(), nullable=True),
    sa.Column("excerpt", sa.Text(), nullable=True),
    sa.Column("order_number", sa.String(200), nullable=True),
    sa.Column("order_id", sa.String(200), nullable=True),
    sa.Column("reason_code_inferred", sa.String(40), nullable=True),
    sa.Column("reason_confidence", sa.Float(), nullable=True),
    sa.Column("return_ids", sa.Text(), nullable=True),            # recorded returns, comma-separated
    sa.Column("status", sa.String(20), nullable=False),           # open | resolved
    sa.Column("received_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# ---- issue 18 (production): dashboard sessions, login failures, forgotten customers -------------
#: Dashboard sessions, revocable server-side. The cookie holds ``session_id`` signed (itsdangerous);
#: ``label`` says who the session is (e.g. the name of a labelled merchant key) for audit trails.
SESSIONS_TABLE = "returnrisk_sessions"
sessions_table = sa.Table(
    SESSIONS_TABLE,
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Index("ix_returnrisk_sessions_expires_at", "expires_at"),
)

#: Failed dashboard logins (the throttle counts them per client address and in all).
LOGIN_FAILURES_TABLE = "returnrisk_login_failures"
login_failures_table = sa.Table(
    LOGIN_FAILURES_TABLE,
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("failed_at", UTCDateTime(), nullable=False),
    sa.Index("ix_returnrisk_login_failures_failed_at", "failed_at"),
    sa.Index("ix_returnrisk_login_failures_client", "client", "failed_at"),
)

#: Customers whose personal data was erased (``returnrisk forget``): a keyed hash of the id, never the id.
FORGOTTEN_TABLE = "returnrisk_forgotten_customers"
forgotten_table = sa.Table(
    FORGOTTEN_TABLE,
    metadata,
    sa.Column("customer_hash", sa.String(64), primary_key=True),
    sa.Column("forgotten_at", UTCDateTime(), nullable=False),
    sa.Column("returns_erased", sa.Integer(), nullable=False),
)


# ---- issue 15 (s15): storefront widget events (revision 0005) ----------------------------------
WIDGET_EVENTS_TABLE = "returnrisk_widget_events"

#: What shoppers did with the size advice (``POST /v1/events``): a count per product, size and
#: event (``shown``: the advice was displayed, ``size_selected``: the shopper picked that size
#: afterwards). ``size`` is ``""`` when the event has none (advice shown for a visitor).
widget_events_table = sa.Table(
    WIDGET_EVENTS_TABLE,
    metadata,
    sa.Column("product_id", sa.String(200), nullable=False),
    sa.Column("size", sa.String(50), nullable=False),
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("count", sa.BigInteger(), nullable=False),
    sa.Column("first_at", UTCDateTime(), nullable=False),
    sa.Column("last_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("product_id", "size", "event", name="pk_returnrisk_widget_events"),
    sa.CheckConstraint("count >= 0", name="widget_event_count_not_negative"),
)
