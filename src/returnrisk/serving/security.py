"""API keys: ``Authorization: Bearer <key>``, compared in constant time, never logged.

Keys may carry a label — who holds them — written ``label:key`` in the settings
(``RETURNRISK_MERCHANT_API_KEYS=anna:KEY1,bob:KEY2``). The label is recorded as the author of what
the key changes (a fix's status); an unlabelled key is labelled ``merchant`` (``admin`` for an
admin key). Only the part before the first ``:`` is a label, and only if it looks like one
(letters, digits, ``._@-``, at most 64): a key that itself contains ``:`` is written with a
label in front (``ops:abc:def``).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from fastapi import Request

from returnrisk.serving.errors import ApiError
from returnrisk.serving.settings import Settings

__all__ = ["Identity", "KeyChecker", "bearer_key", "labelled_keys"]

_LABEL = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


@dataclass(frozen=True)
class Identity:
    """Who is calling: the role of their key and its label."""

    role: str
    label: str


def labelled_keys(entries: list[str], default_label: str) -> list[tuple[str, str]]:
    """``["anna:KEY1", "KEY2"]`` → ``[("anna", "KEY1"), (default_label, "KEY2")]``."""
    out = []
    for entry in entries:
        label, sep, key = entry.partition(":")
        if sep and key and _LABEL.match(label.strip()):
            out.append((label.strip(), key.strip()))
        else:
            out.append((default_label, entry.strip()))
    return out


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _matches(key: str, candidates: list[str]) -> bool:
    found = False
    for candidate in candidates:  # no early exit: the time does not depend on which key matched
        found |= hmac.compare_digest(key.encode(), candidate.encode())
    return found


class KeyChecker:
    """Decides who may call what, from the key lists of the settings."""

    def __init__(self, settings: Settings):
        admins = labelled_keys(list(settings.admin_api_keys), "admin")
        merchants = labelled_keys(list(settings.merchant_api_keys), "merchant")
        self._labels = {"admin": admins, "merchant": merchants + admins}
        self.merchant = [key for _, key in merchants + admins]
        self.admin = [key for _, key in admins]
        self.public = list(settings.public_api_keys) + self.merchant
        self.require_public = settings.require_public_key

    def role_of(self, key: str | None) -> str | None:
        if not key:
            return None
        if _matches(key, self.admin):
            return "admin"
        if _matches(key, self.merchant):
            return "merchant"
        if _matches(key, self.public):
            return "public"
        return None

    def identify(self, key: str | None) -> Identity | None:
        """The role and label of a merchant or admin key (``None`` for any other)."""
        role = self.role_of(key)
        if role not in ("merchant", "admin"):
            return None
        label = role
        for candidate_label, candidate in self._labels[role]:  # every key compared, whichever matches
            if hmac.compare_digest(key.encode(), candidate.encode()):
                label = candidate_label
        return Identity(role, label)

    def _demand(self, request: Request, allowed: list[str], setting: str, roles: tuple[str, ...]) -> str:
        if not allowed:
            raise ApiError(403, "no_key_configured",
                           f"this endpoint needs a key but none is configured: set {setting} "
                           "(comma-separated) and restart the service")
        key = bearer_key(request)
        role = self.role_of(key)
        if role not in roles:
            raise ApiError(401, "invalid_key" if key else "missing_key",
                           "send a valid key as 'Authorization: Bearer <key>'" if not key
                           else "the key is not valid for this endpoint",
                           headers={"WWW-Authenticate": "Bearer"})
        return role

    def merchant_access(self, request: Request) -> str:
        return self._demand(request, self.merchant, "RETURNRISK_MERCHANT_API_KEYS", ("merchant", "admin"))

    def merchant_identity(self, request: Request) -> Identity:
        """Like :meth:`merchant_access`, with the key's label (the author of a change)."""
        self.merchant_access(request)
        return self.identify(bearer_key(request))

    def admin_access(self, request: Request) -> str:
        return self._demand(request, self.admin, "RETURNRISK_ADMIN_API_KEYS", ("admin",))

    def storefront_access(self, request: Request) -> None:
        if self.require_public:
            self._demand(request, self.public, "RETURNRISK_PUBLIC_API_KEYS", ("public", "merchant", "admin"))
