"""Sign and verify Dots webhooks, which are signed the Svix way.

Headers: ``svix-id``, ``svix-timestamp`` (Unix seconds) and ``svix-signature``
(``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, several space-separated
entries allowed, e.g. during a secret rotation). The key is the base64-decoded
part of a ``whsec_...`` secret.

We implement the check ourselves with ``hmac.compare_digest`` instead of calling
``svix.Webhook.verify``: svix 2.9 returns None instead of the payload, raises
ValueError / UnicodeDecodeError for some malformed inputs, and has no way to pass
"now", which the tests need. The tests check that svix accepts what we sign.

During a rotation of the secret the receiver holds two: ``verify`` takes a list and accepts a
delivery signed with any of them, computing and comparing every one (no early exit), so the time
taken says nothing about which secret or signature matched.

Refusing a replayed ``svix-id`` needs storage, so ``verify`` returns the message id
alongside the payload. ``ReplayGuard`` remembers ids in memory for one process (and
for tests); the app's receiver keeps them in its database so every worker shares them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dots.errors import WebhookVerificationError

__all__ = ["TOLERANCE_SECONDS", "ReplayGuard", "VerifiedWebhook", "WebhookVerificationError", "sign", "verify"]

# Svix tolerates this much clock difference either way.
TOLERANCE_SECONDS = 5 * 60

_SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class VerifiedWebhook:
    msg_id: str
    timestamp: datetime
    payload: Any


def _key_from_secret(secret: str) -> bytes:
    encoded = secret[len(_SECRET_PREFIX) :] if secret.startswith(_SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        # A broken secret is a configuration error, not a bad webhook: say so plainly.
        raise ValueError("webhook secret is not valid base64 after the whsec_ prefix") from exc


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the three svix headers for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = _signature(_key_from_secret(secret), msg_id, int(timestamp), body)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(timestamp)),
        "svix-signature": "v1," + base64.b64encode(digest).decode("ascii"),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    # Header mappings from Django/requests/werkzeug differ in case handling: look both ways,
    # and accept a WSGI environ / Django request.META too ("HTTP_SVIX_ID").
    value = headers.get(name)
    if value is None:
        meta_name = "HTTP_" + name.upper().replace("-", "_")
        for key, candidate in headers.items():
            if key.lower() == name or key == meta_name:
                value = candidate
                break
    if not value:
        raise WebhookVerificationError(f"missing {name} header")
    return value


def _parse_signatures(header: str) -> list[bytes]:
    """The v1 signatures in a ``svix-signature`` header; raise if the header is malformed."""
    found: list[bytes] = []
    for entry in header.split():
        version, sep, value = entry.partition(",")
        if not sep or not version or not value:
            raise WebhookVerificationError("malformed svix-signature header")
        if version != "v1":
            continue  # Unknown scheme versions are skipped, as svix does.
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise WebhookVerificationError("malformed svix-signature header") from None
    if not found:
        raise WebhookVerificationError("no v1 signature in svix-signature header")
    return found


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str | Sequence[str],
    now: datetime | None = None,
) -> VerifiedWebhook:
    """Check a webhook's signature and age; return its id, timestamp and parsed JSON payload.

    ``secret`` is one ``whsec_...`` secret, or several while one replaces another: a signature
    made with any of them is accepted. Raises WebhookVerificationError for every way a delivery
    can be wrong, so a receiver can answer 400 with one ``except``; ValueError for a secret that
    is not one (a configuration error, not a bad delivery).
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("no webhook secret to verify with")
    keys = [_key_from_secret(one) for one in secrets]
    msg_id = _header(headers, "svix-id")
    raw_timestamp = _header(headers, "svix-timestamp")
    signatures = _parse_signatures(_header(headers, "svix-signature"))

    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("svix-timestamp is not an integer") from None
    current = (now or datetime.now(UTC)).timestamp()
    if timestamp < current - TOLERANCE_SECONDS:
        raise WebhookVerificationError("webhook timestamp is too old")
    if timestamp > current + TOLERANCE_SECONDS:
        raise WebhookVerificationError("webhook timestamp is in the future")

    if isinstance(body, str):
        body = body.encode("utf-8")
    # Compare every secret's signature against every candidate, without short-circuiting on the
    # first match's position.
    matched = False
    for key in keys:
        expected = _signature(key, msg_id, timestamp, body)
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("webhook signature does not match")

    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise WebhookVerificationError("webhook body is not UTF-8") from None
    except ValueError:
        raise WebhookVerificationError("webhook body is not JSON") from None
    return VerifiedWebhook(
        msg_id=msg_id,
        timestamp=datetime.fromtimestamp(timestamp, tz=UTC),
        payload=payload,
    )


class ReplayGuard:
    """Refuses a second delivery of a message id that was already accepted.

    An id only needs remembering while its signed timestamp is fresh: after that
    ``verify`` refuses the delivery as stale, and the timestamp cannot be changed
    without breaking the signature. So ids are forgotten once their timestamp is
    older than the tolerance, which bounds the memory used.
    """

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, webhook: VerifiedWebhook, *, now: datetime | None = None) -> None:
        """Record the delivery, or raise WebhookVerificationError if its id was seen."""
        current = (now or datetime.now(UTC)).timestamp()
        with self._lock:
            for msg_id in [m for m, ts in self._seen.items() if ts < current - TOLERANCE_SECONDS]:
                del self._seen[msg_id]
            if webhook.msg_id in self._seen:
                raise WebhookVerificationError(f"webhook {webhook.msg_id} was already delivered (replay)")
            self._seen[webhook.msg_id] = webhook.timestamp.timestamp()

    def __len__(self) -> int:
        return len(self._seen)
