"""Signed portal links: ``/returns/{token}``, the token made by itsdangerous over ``{"order_id": …}``.

``URLSafeTimedSerializer(RETURNRISK_PORTAL_SECRET, salt="returnrisk-portal")``: anyone holding the
secret can make a link (the shop's shipping e-mail, ``returnrisk portal-link``, a script in any
language — docs/operations.md shows how); without it a link can be neither made nor altered. A
link is valid ``RETURNRISK_PORTAL_LINK_DAYS`` after it was made.
"""

from __future__ import annotations

from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from returnrisk.errors import ReturnRiskError, UnavailableError

__all__ = ["SALT", "LinkError", "LinkExpired", "LinkInvalid", "PortalLinks", "PortalNotConfigured"]

SALT = "returnrisk-portal"


class LinkError(ReturnRiskError):
    """A portal link that cannot be used (its page shows no order data)."""


class LinkExpired(LinkError):
    code = "link_expired"


class LinkInvalid(LinkError):
    code = "link_invalid"


class PortalNotConfigured(UnavailableError):
    code = "portal_not_configured"

    def __init__(self):
        super().__init__("the return portal has no secret: set RETURNRISK_PORTAL_SECRET (at least 16 characters; "
                         "the same value wherever links are made) and restart")


class PortalLinks:
    """Makes and reads portal tokens with ``secret`` (``None``: the portal is not configured)."""

    def __init__(self, secret: str | None, max_age_seconds: int):
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT) if secret else None
        self.max_age_seconds = max_age_seconds

    @property
    def configured(self) -> bool:
        return self._serializer is not None

    def _require(self) -> URLSafeTimedSerializer:
        if self._serializer is None:
            raise PortalNotConfigured()
        return self._serializer

    def token(self, order_id: str) -> str:
        order_id = str(order_id).strip()
        if not order_id:
            raise ValueError("order_id is empty")
        return self._require().dumps({"order_id": order_id})

    def url(self, base_url: str, order_id: str) -> str:
        return f"{base_url.rstrip('/')}/returns/{quote(self.token(order_id), safe='')}"

    def order_id(self, token: str) -> str:
        """The order of a valid token; :class:`LinkExpired` / :class:`LinkInvalid` otherwise."""
        serializer = self._require()
        try:
            payload = serializer.loads(token, max_age=self.max_age_seconds)
        except SignatureExpired:
            raise LinkExpired("this return link has expired") from None
        except BadSignature:
            raise LinkInvalid("this return link is not valid") from None
        order_id = payload.get("order_id") if isinstance(payload, dict) else None
        if not isinstance(order_id, str) or not order_id:
            raise LinkInvalid("this return link is not valid")
        return order_id
