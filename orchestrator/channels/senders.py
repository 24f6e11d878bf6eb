"""Senders: the one thing a channel team writes. A small Protocol and the reference ones.

    Sender.send(action, body) → Accepted          the provider took the message
                              ↑ TransientSendError  try again later (timeouts, 5xx, throttling)
                              ↑ PermanentSendError  never worth retrying; carries a FailureReason

Delivery to a provider is at-least-once: a worker killed after the provider accepted a
message and before the worker recorded it sends it again on restart. Every sender passes
``action.action_id`` to the provider as its idempotency key (a header, an ``OutId``, a
``msgid``), so a provider that deduplicates on it delivers once.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from orchestrator.channels.contract import FailureReason, ReceiptType
from orchestrator.core import Action
from orchestrator.errors import OrchestratorError, TransientError

log = logging.getLogger("orchestrator.channels")


class TransientSendError(TransientError):
    """The provider could not take the message now; the worker retries with backoff."""


class PermanentSendError(OrchestratorError):
    """The provider refused the message for good: dead-lettered, and a ``message.failed`` receipt."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Accepted:
    """The provider took the message. ``followups``: further receipts it reported at once
    (a simulated reply in the demo), as (type, data fields)."""

    provider_id: str | None = None
    followups: tuple[tuple[ReceiptType, dict[str, Any]], ...] = ()


class Sender(Protocol):
    """Delivers one action to a provider.

    ``body`` is the action record exactly as it came off the topic (re-published copies are
    byte-identical). Called once per action and attempt, never after ``not_after``, never
    again after it returned for the same ``action_id`` (within the dedupe window).
    """

    async def send(self, action: Action, body: bytes) -> Accepted: ...

    async def close(self) -> None: ...


def _text(action: Action) -> str:
    text = action.content.get("text")
    return str(text) if text is not None else ""


class ConsoleSender:
    """Prints each message; ``reply``: simulate the customer answering it (demo)."""

    def __init__(self, reply: str | None = None, out: IO[str] | None = None) -> None:
        self.reply = reply
        self.out = out

    async def send(self, action: Action, body: bytes) -> Accepted:
        recipient = ", ".join(f"{k}={v}" for k, v in action.to.items())
        print(f"  ✉ {action.channel:<14} {action.customer_id:<8} {recipient}  {_text(action)}", file=self.out)
        if self.reply is None:
            return Accepted()
        return Accepted(followups=(("message.replied", {"text": self.reply}),))

    async def close(self) -> None:
        return None


@dataclass
class FileSender:
    """Appends one JSON line per send (with the moment it was sent) and syncs it to disk."""

    path: Path
    _handle: IO[bytes] | None = field(default=None, init=False)

    async def send(self, action: Action, body: bytes) -> Accepted:
        if self._handle is None:
            self._handle = self.path.open("ab")
        line = {"sent_at": _now_iso(), "action": orjson.loads(body)}
        self._handle.write(orjson.dumps(line) + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return Accepted()

    async def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _now_iso() -> str:
    return datetime.now(tz=UTC).isoformat()


class WeComStub:
    """Where a WeCom (企业微信) 1v1 send goes; logs instead of calling the API.

    The real call: ``POST https://qyapi.weixin.qq.com/cgi-bin/externalcontact/add_msg_template
    ?access_token=…`` with ``{"chat_type": "single", "external_userid": [to.wecom_external_id],
    "sender": <the staff userid who owns the contact>, "text": {"content": content.text}}``.
    Map its ``errcode``: 0 → Accepted(msgid); 45009/45033 (frequency) → TransientSendError;
    84061 (not a contact of that staff) → PermanentSendError(unreachable); 41001/42001 (token)
    → refresh the token, then TransientSendError. WeCom has no idempotency key: keep
    ``action_id`` → ``msgid`` in your own store before calling it.
    """

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, action: Action, body: bytes) -> Accepted:
        log.info("wecom stub: would send %s to %s", action.action_id, action.to)
        self.sent.append(action.action_id)
        return Accepted(provider_id=f"stub-msg-{len(self.sent)}")

    async def close(self) -> None:
        return None


class SmsStub:
    """Where an SMS send goes; logs instead of calling the provider.

    The real call (e.g. Alibaba Cloud ``SendSms``): ``PhoneNumbers=to.phone``,
    ``SignName``/``TemplateCode`` from your provider setup, ``TemplateParam`` from content,
    and ``OutId=action_id`` (the provider's idempotency and trace id). Map ``Code``: OK →
    Accepted(BizId); ``isv.BUSINESS_LIMIT_CONTROL`` → PermanentSendError(quota_exceeded);
    ``isv.MOBILE_NUMBER_ILLEGAL`` → PermanentSendError(invalid_recipient); throttling and
    5xx → TransientSendError.
    """

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, action: Action, body: bytes) -> Accepted:
        log.info("sms stub: would send %s to %s", action.action_id, action.to)
        self.sent.append(action.action_id)
        return Accepted(provider_id=f"stub-biz-{len(self.sent)}")

    async def close(self) -> None:
        return None
