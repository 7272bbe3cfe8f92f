"""API keys: ``Authorization: Bearer <key>``, compared in constant time, never logged."""

from __future__ import annotations

import hmac

from fastapi import Request

from returnrisk.serving.errors import ApiError
from returnrisk.serving.settings import Settings

__all__ = ["KeyChecker", "bearer_key"]


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
        self.merchant = list(settings.merchant_api_keys) + list(settings.admin_api_keys)
        self.admin = list(settings.admin_api_keys)
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

    def admin_access(self, request: Request) -> str:
        return self._demand(request, self.admin, "RETURNRISK_ADMIN_API_KEYS", ("admin",))

    def storefront_access(self, request: Request) -> None:
        if self.require_public:
            self._demand(request, self.public, "RETURNRISK_PUBLIC_API_KEYS", ("public", "merchant", "admin"))
