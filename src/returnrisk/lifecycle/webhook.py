"""Delivering one alert to one incoming webhook: a signed JSON POST.

The body is the alert's JSON (``text`` for chat tools, ``id`` the alert's id); the header
``X-Returnrisk-Signature: sha256=<hex HMAC-SHA256 of the body>`` (with
``RETURNRISK_ALERT_WEBHOOK_SECRET``) lets the receiver check it came from this service and was
not altered; ``X-Returnrisk-Alert-Id`` repeats the id so a receiver can drop a repeated
delivery (an alert is sent at least once: a delivery interrupted before its answer was recorded
is sent again, with the same id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

__all__ = ["SIGNATURE_HEADER", "DeliveryFailed", "encode", "post", "signature", "verify"]

SIGNATURE_HEADER = "X-Returnrisk-Signature"


class DeliveryFailed(Exception):
    """The webhook did not acknowledge the alert (the message says how)."""


def encode(payload: dict) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def signature(body: bytes, secret: str) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """What a receiver does: compare the header with the body's signature in constant time."""
    return header is not None and hmac.compare_digest(header, signature(body, secret))


def post(url: str, body: bytes, *, alert_id: str, secret: str | None, timeout: float) -> int:
    """POST ``body`` to ``url``; the HTTP status of a 2xx answer, else :class:`DeliveryFailed`."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "returnrisk-alerts",
               "X-Returnrisk-Alert-Id": alert_id}
    if secret:
        headers[SIGNATURE_HEADER] = signature(body, secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        text = exc.read(200).decode("utf-8", "replace").strip()
        raise DeliveryFailed(f"HTTP {exc.code}{': ' + text if text else ''}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"not reached: {reason}") from None
