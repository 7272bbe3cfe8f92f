"""Dashboard sessions: a signed, expiring token in an http-only cookie (no key in the cookie).

Tokens are stateless — ``role.expires.signature`` with an HMAC over the first two parts — so
every worker accepts them. The signing secret is ``Settings.session_secret`` or, when unset,
derived from the configured keys (rotating the keys logs everybody out).
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SessionSigner", "COOKIE"]

COOKIE = "returnrisk_session"


class SessionSigner:
    def __init__(self, secret: str | None, keys: list[str], lifetime_s: int = 8 * 3600):
        material = secret or "\n".join(sorted(keys)) or "no-keys"
        self._secret = hashlib.sha256(b"returnrisk-session\n" + material.encode()).digest()
        self.lifetime_s = lifetime_s

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, role: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + self.lifetime_s)
        payload = f"{role}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def role(self, token: str | None, now: float | None = None) -> str | None:
        """The role a valid, unexpired token was issued for, else ``None``."""
        if not token or token.count(".") != 2:
            return None
        role, expires, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{role}.{expires}")):
            return None
        try:
            if int(expires) < (now or time.time()):
                return None
        except ValueError:
            return None
        return role if role in ("merchant", "admin") else None
