"""Who is shopping: a visitor, or a customer the shop vouches for.

A customer's answer reveals their history (their usual size, how often they send things back),
so a browser cannot simply name a customer id. Storefront calls identify a shopper in one of
three ways, checked in this order:

``customer_id`` (query, or inside ``/v1/score`` lines)
    only with a merchant key (server to server), or when ``RETURNRISK_ALLOW_RAW_CUSTOMER_IDS``
    keeps the behaviour of earlier versions; otherwise 401 ``customer_token_required``;
``customer_token`` (query) or the ``X-Customer-Token`` header
    an HS256 JWT the shop's backend signs with ``RETURNRISK_CUSTOMER_TOKEN_SECRET``: ``sub`` is
    the customer id, ``exp`` at most 24 hours ahead (:class:`CustomerTokens`);
a Shopify App Proxy request
    its ``signature`` parameter, an HMAC-SHA256 of the other parameters with the app's shared
    secret (``RETURNRISK_SHOPIFY_APP_SECRET``), vouches for ``logged_in_customer_id`` (empty: a
    visitor) (:class:`ShopifyProxy`).

Nothing else is a customer. A token or signature that does not verify is refused (401
``invalid_customer_token``): the visitor's answer is never given in its place.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from returnrisk.serving.errors import ApiError
from returnrisk.serving.security import KeyChecker, bearer_key
from returnrisk.serving.settings import Settings

__all__ = ["Shopper", "CustomerTokens", "ShopifyProxy", "ShopperResolver", "TOKEN_HEADER", "MAX_TOKEN_LIFETIME",
           "PROXY_MAX_AGE", "proxy_signature"]

TOKEN_HEADER = "x-customer-token"
#: A token may not be valid for longer than this (seconds): a leaked one expires within a day.
MAX_TOKEN_LIFETIME = 24 * 3600
#: Clock difference tolerated between the shop's backend and the service (seconds).
LEEWAY = 30
#: An App Proxy request older (or newer) than this is refused: its URL cannot be replayed later.
PROXY_MAX_AGE = 300


@dataclass(frozen=True)
class Shopper:
    """``customer_id`` ``None`` is a visitor; ``via`` says who vouched: ``visitor``, ``token``,
    ``shopify``, ``merchant_key`` or ``raw_id`` (allowed by the setting)."""

    customer_id: str | None
    via: str

    @property
    def known(self) -> bool:
        return self.customer_id is not None


VISITOR = Shopper(None, "visitor")


def _invalid(detail: str) -> ApiError:
    return ApiError(401, "invalid_customer_token", detail)


def _not_configured(setting: str, what: str) -> ApiError:
    return ApiError(403, "no_key_configured", f"{what}, but the service has no secret to check it: set {setting} "
                                              "and restart the service (see docs/storefront.md)")


class CustomerTokens:
    """Verifies customer tokens; a verified token is remembered (until it expires) so that a shopper's
    next pages cost a dictionary look-up instead of a signature check."""

    def __init__(self, secret: str | None, *, cache_size: int = 10_000):
        self.secret = secret
        self.cache_size = cache_size
        self._verified: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def customer_of(self, token: str, now: float | None = None) -> str:
        """The customer id (``sub``) of a valid token; 401 ``invalid_customer_token`` otherwise."""
        now = time.time() if now is None else now
        known = self._verified.get(token)
        if known is not None:
            customer, expires = known
            if now <= expires + LEEWAY:
                return customer
            self._verified.pop(token, None)
        if self.secret is None:
            raise _not_configured("RETURNRISK_CUSTOMER_TOKEN_SECRET", "a customer token was sent")
        customer, expires = self._verify(token, now)
        self._verified[token] = (customer, expires)
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)
        return customer

    def _verify(self, token: str, now: float) -> tuple[str, float]:
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], leeway=LEEWAY,
                                options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise _invalid("the customer token has expired: have the shop sign a new one (tokens live at most "
                           "24 hours)") from None
        except jwt.InvalidSignatureError:
            raise _invalid("the customer token's signature does not verify: it must be signed (HS256) with "
                           "RETURNRISK_CUSTOMER_TOKEN_SECRET") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid(f"the customer token has no '{exc.claim}' claim: it needs 'sub' (the customer id) "
                           "and 'exp' (at most 24 hours ahead)") from None
        except jwt.InvalidAlgorithmError:
            raise _invalid("the customer token is not signed with HS256: sign it with HS256 and "
                           "RETURNRISK_CUSTOMER_TOKEN_SECRET") from None
        except jwt.InvalidTokenError as exc:
            raise _invalid(f"the customer token is not a valid JWT ({exc}): sign one as docs/storefront.md "
                           "shows") from None
        subject, expires = claims.get("sub"), float(claims["exp"])
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
            raise _invalid("the customer token's 'sub' must be the customer id (a non-empty string)")
        issued = claims.get("iat")
        lifetime = expires - (float(issued) if isinstance(issued, (int, float)) else now)
        if lifetime > MAX_TOKEN_LIFETIME + LEEWAY:
            raise _invalid(f"the customer token is valid for {lifetime / 3600:.1f} hours: tokens may live at most "
                           "24 hours (set 'exp' at most 24 hours after 'iat')")
        return subject, expires


def proxy_signature(params: list[tuple[str, str]], secret: str) -> str:
    """Shopify's App Proxy signature of the query ``params`` (``signature`` itself excluded).

    Each parameter becomes ``key=value`` (several values of a key joined by commas, in order);
    these are sorted, joined without a separator and signed with HMAC-SHA256 (hex) — Shopify's
    documented algorithm ("Authenticate app proxies").
    """
    values: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            values.setdefault(key, []).append(value)
    message = "".join(sorted(f"{key}={','.join(vals)}" for key, vals in values.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class ShopifyProxy:
    """Verifies requests forwarded by a Shopify App Proxy and reads their logged-in customer."""

    def __init__(self, secret: str | None):
        self.secret = secret

    def customer_of(self, params: list[tuple[str, str]], now: float | None = None) -> str | None:
        """``logged_in_customer_id`` (``None`` if no one is logged in) of a request whose signature verifies."""
        if self.secret is None:
            raise _not_configured("RETURNRISK_SHOPIFY_APP_SECRET", "a Shopify App Proxy signature was sent")
        given = dict(params)
        expected = proxy_signature(params, self.secret)
        if not hmac.compare_digest(expected.encode(), given.get("signature", "").encode()):
            raise _invalid("the Shopify App Proxy signature does not verify: check RETURNRISK_SHOPIFY_APP_SECRET "
                           "(the app's API secret key) and that the proxy forwards the query unchanged")
        try:
            stamp = float(given.get("timestamp", ""))
        except ValueError:
            raise _invalid("the Shopify App Proxy request has no valid 'timestamp'") from None
        now = time.time() if now is None else now
        if abs(now - stamp) > PROXY_MAX_AGE:
            raise _invalid(f"the Shopify App Proxy request is {abs(now - stamp):.0f} s old: proxy requests are "
                           f"accepted for {PROXY_MAX_AGE} s (check the service's clock)")
        customer = given.get("logged_in_customer_id", "").strip()
        return customer or None


class ShopperResolver:
    """Turns a request's identification (see the module docstring) into a :class:`Shopper`."""

    def __init__(self, settings: Settings, keys: KeyChecker):
        self.tokens = CustomerTokens(settings.customer_token_secret)
        self.shopify = ShopifyProxy(settings.shopify_app_secret)
        self.allow_raw = settings.allow_raw_customer_ids
        self.keys = keys

    def raw_ids_allowed(self, request) -> bool:
        """A raw customer id is accepted: the setting allows it, or the caller holds a merchant key."""
        return self.allow_raw or self.keys.role_of(bearer_key(request)) in ("merchant", "admin")

    def require_raw_ids_allowed(self, request, where: str = "customer_id") -> str:
        if self.allow_raw:
            return "raw_id"
        if self.keys.role_of(bearer_key(request)) in ("merchant", "admin"):
            return "merchant_key"
        raise ApiError(401, "customer_token_required",
                       f"{where} names a shopper only with a merchant key (Authorization: Bearer <key>, server "
                       "to server); from a browser send customer_token (or the X-Customer-Token header): a JWT "
                       "the shop's backend signs with RETURNRISK_CUSTOMER_TOKEN_SECRET (see docs/storefront.md)")

    def resolve(self, request, customer_id: str | None = None, token: str | None = None) -> Shopper:
        """The shopper of ``request``; ``customer_id`` and ``token`` are its query parameters."""
        if customer_id:
            return Shopper(customer_id, self.require_raw_ids_allowed(request))
        token = token or request.headers.get(TOKEN_HEADER)
        if token:
            return Shopper(self.tokens.customer_of(token.strip()), "token")
        query = request.query_params
        if "signature" in query:
            customer = self.shopify.customer_of(query.multi_items())
            return Shopper(customer, "shopify") if customer else VISITOR
        return VISITOR
