"""CSRF protection for HTML forms (the dashboard's status buttons; the return portal reuses it).

Double-submit with a signed token: the browser holds a random *seed* in an ``HttpOnly``,
``SameSite=Strict`` cookie; each form carries ``csrf_token`` = ``<expiry>.<HMAC(secret, purpose,
seed, expiry)>``. A forged request from another site can neither read the seed nor compute the
token, and a token is only valid for its purpose (one form family) until it expires. When the
browser sends ``Origin`` (or, failing that, ``Referer``), it must be this site as well.

Usage in a route (no session needed)::

    csrf = CsrfGuard(secret, purpose="dashboard")
    seed = csrf.seed(request)                     # the cookie's, or a new one
    html = render(..., csrf_token=csrf.token(seed))
    response = HTMLResponse(html); csrf.keep(response, seed, secure=True)

    # on POST
    csrf.check(request, form.get("csrf_token"))   # raises CsrfRejected (403 csrf_failed)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from returnrisk.serving.errors import ApiError

__all__ = ["CSRF_FIELD", "CsrfGuard", "CsrfRejected"]

CSRF_FIELD = "csrf_token"


class CsrfRejected(ApiError):
    """A form post without a valid token, or from another site (403 ``csrf_failed``)."""

    def __init__(self, detail: str):
        super().__init__(403, "csrf_failed", detail)


class CsrfGuard:
    def __init__(self, secret: str | bytes, *, purpose: str, cookie: str = "returnrisk_csrf", path: str = "/",
                 lifetime_s: int = 8 * 3600):
        material = secret.encode() if isinstance(secret, str) else secret
        self._key = hashlib.sha256(b"returnrisk-csrf\n" + material).digest()
        self.purpose = purpose
        self.cookie = cookie
        self.path = path
        self.lifetime_s = lifetime_s

    def seed(self, request: Request) -> str:
        """The browser's seed (from its cookie), or a new one to :meth:`keep`."""
        seed = request.cookies.get(self.cookie, "")
        return seed if 20 <= len(seed) <= 100 and seed.isascii() else secrets.token_urlsafe(32)

    def _mac(self, seed: str, expires: int) -> str:
        message = f"{self.purpose}\n{seed}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def token(self, seed: str, now: float | None = None) -> str:
        """The token forms carry for ``seed``."""
        expires = int((now or time.time()) + self.lifetime_s)
        return f"{expires}.{self._mac(seed, expires)}"

    def keep(self, response: Response, seed: str, *, secure: bool) -> None:
        """Set (or refresh) the seed cookie on ``response``."""
        response.set_cookie(self.cookie, seed, max_age=self.lifetime_s, path=self.path, httponly=True,
                            secure=secure, samesite="strict")

    def valid(self, request: Request, token: str | None, now: float | None = None) -> str | None:
        """``None`` if the post may go on, else why it may not."""
        origin = request.headers.get("origin") or request.headers.get("referer")
        if origin and origin != "null":
            parts = urlsplit(origin)
            if parts.netloc.lower() != (request.headers.get("host") or request.url.netloc).lower():
                return f"the form was sent from another site ({parts.scheme}://{parts.netloc})"
        seed = request.cookies.get(self.cookie)
        if not seed:
            return "the form's security cookie is missing (cookies blocked, or it expired): reload the page"
        expires_text, _, mac = (token or "").partition(".")
        try:
            expires = int(expires_text)
        except ValueError:
            return "the form has no valid security token: reload the page and send it again"
        if not hmac.compare_digest(mac, self._mac(seed, expires)):
            return "the form's security token does not match: reload the page and send it again"
        if expires < (now or time.time()):
            return "the form is too old: reload the page and send it again"
        return None

    def check(self, request: Request, token: str | None) -> None:
        """Raise :class:`CsrfRejected` unless :meth:`valid`."""
        problem = self.valid(request, token)
        if problem is not None:
            raise CsrfRejected(problem)
