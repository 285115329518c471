"""CI callbacks as a CI author would write them from the README's scheme, independently of Tower's
own code: HMAC-SHA256 with the operation's project secret over "timestamp.delivery.body"."""

from __future__ import annotations

import hashlib
import hmac
import json
import time


def signature(secret: str, stamp: str, delivery: str, raw: bytes) -> str:
    message = stamp.encode() + b"." + delivery.encode() + b"." + raw
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed(body: dict, secret: str, *, at: int | None = None, delivery: str = "d-1") -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    stamp = str(at or int(time.time()))
    return raw, {
        "X-Tower-Timestamp": stamp,
        "X-Tower-Signature": signature(secret, stamp, delivery, raw),
        "X-Tower-Delivery": delivery,
        "Content-Type": "application/json",
    }
