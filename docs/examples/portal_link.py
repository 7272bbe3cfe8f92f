"""Make a return-portal link without returnrisk or itsdangerous (Python standard library only).

The token is what ``URLSafeTimedSerializer(RETURNRISK_PORTAL_SECRET, salt="returnrisk-portal")``
makes of ``{"order_id": ...}``: base64url(JSON) "." base64url(timestamp) "." base64url(HMAC-SHA1),
the HMAC key being SHA1(salt + "signer" + secret). Use it in the script that sends the shipping
e-mail::

    url = "https://returns.shop.example/returns/" + portal_token(SECRET, order["id"])
"""

import base64
import hashlib
import hmac
import json
import time


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def portal_token(secret: str, order_id: str, now: float | None = None) -> str:
    payload = _b64(json.dumps({"order_id": order_id}, separators=(",", ":")).encode())
    stamp = int(time.time() if now is None else now)
    value = payload + b"." + _b64(stamp.to_bytes((stamp.bit_length() + 7) // 8, "big"))
    key = hashlib.sha1(b"returnrisk-portal" + b"signer" + secret.encode()).digest()
    signature = _b64(hmac.new(key, value, hashlib.sha1).digest())
    return (value + b"." + signature).decode()


if __name__ == "__main__":
    import sys

    print(portal_token(sys.argv[1], sys.argv[2]))
