"""The webhook sender: HTTP POST of the action record, signed, with an idempotency key.

Headers (a receiver checks them as it would Stripe's or GitHub's):

    Content-Type: application/json
    X-XO-Timestamp: 1764556800                       Unix seconds when this attempt was signed
    X-XO-Signature: sha256=<hex>                     HMAC-SHA256(secret, f"{timestamp}.".encode() + body)
    Idempotency-Key: <action_id>                     the same on every attempt and every re-publication

The body is the action record byte for byte as it came off the topic. A receiver rejects
a timestamp older than a few minutes (replays) and deduplicates on ``Idempotency-Key``.
2xx: accepted. 5xx, 408, 429, a timeout or a refused connection: retried with backoff.
Any other status: a permanent failure (``rejected``; 404/410: ``invalid_recipient``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import aiohttp

from orchestrator.channels.contract import FailureReason
from orchestrator.channels.senders import Accepted, PermanentSendError, TransientSendError
from orchestrator.core import Action

RETRIED_STATUSES = frozenset({408, 429})
GONE_STATUSES = frozenset({404, 410})
TOLERANCE_S = 300  # a receiver refuses older timestamps: a captured request cannot be replayed later


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-XO-Signature`` value for one request."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, received: str, now: float) -> bool:
    """What a receiver does: a fresh timestamp and a matching signature (compared in constant time)."""
    try:
        fresh = abs(now - int(timestamp)) <= TOLERANCE_S
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), received)


class WebhookSender:
    def __init__(self, url: str, secret: bytes, timeout_s: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a webhook needs a signing secret (XO_WEBHOOK_SECRET)")
        self.url = url
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def send(self, action: Action, body: bytes) -> Accepted:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        stamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "X-XO-Timestamp": stamp,
            "X-XO-Signature": signature(self.secret, stamp, body),
            "Idempotency-Key": action.action_id,
        }
        try:
            async with self._session.post(self.url, data=body, headers=headers) as response:
                status = response.status
                detail = (await response.text(errors="replace"))[:200]
                request_id = response.headers.get("X-Request-Id")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientSendError(f"webhook {self.url}: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return Accepted(provider_id=request_id)
        if status >= 500 or status in RETRIED_STATUSES:
            raise TransientSendError(f"webhook {self.url}: HTTP {status}: {detail}")
        reason = FailureReason.invalid_recipient if status in GONE_STATUSES else FailureReason.rejected
        raise PermanentSendError(reason, f"HTTP {status}: {detail}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
