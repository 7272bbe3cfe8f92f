"""Dashboard sessions: a row in the service database per login, its id signed in an http-only cookie.

The cookie holds the session id signed with :mod:`itsdangerous` (``URLSafeTimedSerializer``: a
forged or altered cookie, or one older than the session's lifetime, is refused before the
database is read). The row (:data:`returnrisk.db.schema.sessions_table`) says who logged in
(``role``, and ``label`` — e.g. the name of a labelled merchant key, for audit trails), when the
session expires, and whether it was revoked: logout revokes it, so an old cookie stops working at
once, on every worker and host that shares the database.

The signing secret is ``RETURNRISK_SESSION_SECRET`` or, when unset, derived from the configured
keys (rotating the keys logs everybody out).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer

from returnrisk.db.schema import sessions_table

__all__ = ["COOKIE", "Session", "SessionStore"]

log = logging.getLogger(__name__)

COOKIE = "returnrisk_session"
ROLES = ("merchant", "admin")


@dataclass(frozen=True)
class Session:
    session_id: str
    role: str
    label: str | None
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SessionStore:
    """Issues, checks and revokes dashboard sessions (see the module docstring)."""

    def __init__(self, engine: sa.Engine, secret: str | None, keys: list[str], lifetime_s: float = 8 * 3600):
        material = secret or "\n".join(sorted(keys)) or "no-keys"
        derived = hashlib.sha256(b"returnrisk-session\n" + material.encode()).hexdigest()
        self._serializer = URLSafeTimedSerializer(derived, salt="returnrisk-dashboard-session")
        self.engine = engine
        self.lifetime_s = int(lifetime_s)

    def issue(self, role: str, label: str | None = None) -> str:
        """A new session for ``role``: its row is written, the signed cookie value returned."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} cannot open a dashboard session")
        session_id = secrets.token_urlsafe(32)
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(sa.delete(sessions_table).where(sessions_table.c.expires_at < now - timedelta(days=1)))
            conn.execute(sa.insert(sessions_table).values(
                session_id=session_id, role=role, label=label, created_at=now,
                expires_at=now + timedelta(seconds=self.lifetime_s), revoked_at=None))
        log.info("dashboard session opened (%s%s)", role, f", {label}" if label else "")
        return self._serializer.dumps(session_id)

    def _session_id(self, token: str | None) -> str | None:
        if not token:
            return None
        try:
            value = self._serializer.loads(token, max_age=self.lifetime_s)
        except BadSignature:   # also SignatureExpired
            return None
        return value if isinstance(value, str) else None

    def lookup(self, token: str | None) -> Session | None:
        """The live session of a cookie value, or ``None`` (bad signature, expired, revoked, unknown)."""
        session_id = self._session_id(token)
        if session_id is None:
            return None
        table = sessions_table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.session_id == session_id,
                                                      table.c.revoked_at.is_(None))).first()
        if row is None or row.expires_at <= _now() or row.role not in ROLES:
            return None
        return Session(row.session_id, row.role, row.label, row.expires_at)

    def role(self, token: str | None) -> str | None:
        session = self.lookup(token)
        return session.role if session else None

    def revoke(self, token: str | None) -> bool:
        """End the session of a cookie value (logout); ``True`` if a live session was ended."""
        session_id = self._session_id(token)
        if session_id is None:
            return False
        table = sessions_table
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(table).where(table.c.session_id == session_id, table.c.revoked_at.is_(None))
                                .values(revoked_at=_now())).rowcount
        if done:
            log.info("dashboard session revoked (logout)")
        return bool(done)
