"""Dashboard sessions: a signed, expiring token in an http-only cookie (no key in the cookie).

Tokens are stateless — ``role.expires.signature`` with an HMAC over the first two parts — so
every worker accepts them. The role part may carry the label of the key that logged in
(``role:<label, base64url>``): the author recorded for what the session changes. The signing secret is ``Settings.session_secret`` or, when unset,
derived from the configured keys (rotating the keys logs everybody out).
"""

from __future__ import annotations

import base64
import binascii
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

    def issue(self, role: str, now: float | None = None, label: str | None = None) -> str:
        expires = int((now or time.time()) + self.lifetime_s)
        who = role if not label else f"{role}:{base64.urlsafe_b64encode(label.encode()).decode().rstrip('=')}"
        payload = f"{who}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def identity(self, token: str | None, now: float | None = None) -> tuple[str, str] | None:
        """``(role, label)`` of a valid, unexpired token (the label is the role when none was kept)."""
        if not token or token.count(".") != 2:
            return None
        who, expires, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{who}.{expires}")):
            return None
        try:
            if int(expires) < (now or time.time()):
                return None
        except ValueError:
            return None
        role, _, encoded = who.partition(":")
        if role not in ("merchant", "admin"):
            return None
        try:
            label = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() if encoded else role
        except (binascii.Error, UnicodeDecodeError):
            return None
        return role, label

    def role(self, token: str | None, now: float | None = None) -> str | None:
        """The role a valid, unexpired token was issued for, else ``None``."""
        found = self.identity(token, now)
        return None if found is None else found[0]
