"""CSRF protection of the portal form: a double-submit cookie bound by HMAC to the order and the form.

On the form's page a random cookie (``HttpOnly``, ``SameSite=Strict``, path ``/returns``) is set
if missing; the form carries ``HMAC(secret, cookie | order | form id)``. A submission is accepted
only when the cookie is present and the field matches — a page on another site can neither read
the cookie nor compute the field, and a form id cannot be moved to another order.

Small and self-contained so that it can be swapped for the service's shared CSRF helper
(``serving/csrf.py``) when there is one: the portal only calls :meth:`PortalCsrf.cookie_value`,
:meth:`PortalCsrf.field` and :meth:`PortalCsrf.valid`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "PortalCsrf"]

CSRF_COOKIE = "returnrisk_portal_csrf"
CSRF_FIELD = "csrf"


class PortalCsrf:
    def __init__(self, secret: str):
        self._key = hashlib.sha256(b"returnrisk-portal-csrf\n" + secret.encode()).digest()

    @staticmethod
    def cookie_value(current: str | None) -> tuple[str, bool]:
        """The cookie to use and whether it must be set (a missing or malformed one is replaced)."""
        if current and 20 <= len(current) <= 100 and current.replace("-", "").replace("_", "").isalnum():
            return current, False
        return secrets.token_urlsafe(32), True

    def field(self, cookie: str, order_id: str, form_id: str) -> str:
        message = f"{cookie}|{order_id}|{form_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, order_id: str, form_id: str | None, sent: str | None) -> bool:
        if not cookie or not form_id or not sent:
            return False
        return hmac.compare_digest(self.field(cookie, order_id, form_id), sent)
