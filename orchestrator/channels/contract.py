"""The channel contract as models: actions per channel, receipts, the input event envelope.

The engine builds actions as ``core.effects.Action``; the models here narrow its ``to`` and
``content`` per channel (the recipient a channel addresses, the content a task carries) so
that channel teams get one schema per topic. Receipts are events on the events topic that
name the action and the customer. ``orchestrator schema`` writes these as JSON Schemas under
``schema/``; a test keeps the committed files in sync and checks every record the engine
produces against them.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model, model_validator

from orchestrator.core.effects import SCHEMA_VERSION, Action
from orchestrator.core.events import Event
from orchestrator.core.journey_spec import CHANNELS
from orchestrator.core.steps import RECIPIENT_KEY, STAFF_CHANNELS

RECEIPT_TYPES = ("message.delivered", "message.read", "message.clicked", "message.replied", "message.failed")
ReceiptType = Literal["message.delivered", "message.read", "message.clicked", "message.replied", "message.failed"]
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class FailureReason(StrEnum):
    """Why a message was not delivered: the ``reason`` of a ``message.failed`` receipt."""

    expired = "expired"  # not sent: ``not_after`` had passed
    invalid_recipient = "invalid_recipient"  # the provider does not know the address (bad phone, no contact)
    unreachable = "unreachable"  # the customer blocked the sender or deleted the WeCom contact
    content_rejected = "content_rejected"  # the provider refused the content (template, keywords)
    quota_exceeded = "quota_exceeded"  # the provider's or the staff account's quota is used up
    rejected = "rejected"  # any other permanent refusal by the provider (4xx)
    retries_exhausted = "retries_exhausted"  # transient failures outlasted the retry budget
    invalid_action = "invalid_action"  # the action record did not match this schema


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MessageContent(_Strict):
    """What a message channel delivers: the rendered text, and a coupon or points granted with it."""

    text: str
    coupon: dict[str, str] | None = Field(default=None, description="e.g. {'pool': 'REPLENISH_20'}: issue one")
    points: int | None = Field(default=None, ge=1, description="reward points granted with the message")


class TaskContent(_Strict):
    """A task for a store associate (导购): what to do, on which channel, by when."""

    text: str
    kind: str = Field(description="what the associate does: wecom_private, call, …")
    assignee: str
    due_at: AwareDatetime


def _camel(channel: str) -> str:
    return "".join(part.capitalize() for part in channel.split("_"))


def _recipient(channel: str) -> type[BaseModel]:
    key = RECIPIENT_KEY[channel]
    fields: dict[str, Any] = {key: (str, Field(min_length=1, description=f"the {key} this channel addresses"))}
    if channel in STAFF_CHANNELS:
        owner = "the staff account (导购) that owns the customer's WeCom contact and sends in its name"
        fields["staff_id"] = (str | None, Field(default=None, description=owner))
    model: type[BaseModel] = create_model(f"{_camel(channel)}Recipient", __base__=_Strict, **fields)
    return model


def channel_action(channel: str) -> type[Action]:
    """``core.effects.Action`` with ``channel``, ``to`` and ``content`` narrowed to one channel."""
    content = TaskContent if channel == "task" else MessageContent
    model: type[Action] = create_model(
        f"{_camel(channel)}Action",
        __base__=Action,
        __doc__=f"An action on the {channel} topic; deduplicate on action_id, never send after not_after.",
        channel=(Literal[channel], ...),  # type: ignore[arg-type]  # a Literal of a runtime value
        to=(_recipient(channel), ...),
        content=(content, ...),
    )
    return model


ACTIONS: dict[str, type[Action]] = {channel: channel_action(channel) for channel in sorted(CHANNELS)}


class ReceiptData(_Strict):
    """What a receipt says: which action, whose, and for a failure why."""

    schema_version: Literal[1] = SCHEMA_VERSION
    action_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1, description="the action's customer_id, never looked up by phone")
    channel: str
    reason: FailureReason | None = Field(default=None, description="required on message.failed, else absent")
    detail: str | None = Field(default=None, max_length=500, description="the provider's words, for people")
    text: str | None = Field(default=None, max_length=4000, description="a reply's text (message.replied)")
    url: str | None = Field(default=None, max_length=2000, description="the link clicked (message.clicked)")


class Receipt(_Strict):
    """A receipt: an event on the events topic, keyed and identified by the action's customer."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"type": {"const": "message.failed"}}},
            "then": {"properties": {"data": {"required": ["reason"]}}},
        },
    )

    id: str = Field(min_length=1, max_length=200, description="deterministic: receipt:<type>:<action_id>")
    type: ReceiptType
    time: AwareDatetime
    source: str = Field(max_length=200, description="channel:<channel>")
    identity: dict[str, str] = Field(description="{'member_id': <the action's customer_id>}")
    data: ReceiptData

    @model_validator(mode="after")
    def _failure_has_reason(self) -> Receipt:
        if (self.type == "message.failed") != (self.data.reason is not None):
            raise ValueError("data.reason is required on message.failed and only there")
        if self.identity.get("member_id") != self.data.customer_id:
            raise ValueError("identity.member_id must be data.customer_id (receipts are routed by customer)")
        return self


def receipt_id(kind: str, action_id: str) -> str:
    return f"receipt:{kind}:{action_id}"


def make_receipt(action: Action, kind: ReceiptType, at: AwareDatetime, **data: Any) -> Receipt:
    """The receipt for ``action``; the same outcome always gets the same id (the engine dedupes on it)."""
    return Receipt(
        id=receipt_id(kind, action.action_id),
        type=kind,
        time=at,
        source=f"channel:{action.channel}",
        identity={"member_id": action.customer_id},
        data=ReceiptData(action_id=action.action_id, customer_id=action.customer_id, channel=action.channel, **data),
    )


def _schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    body = model.model_json_schema()
    # Every record carries its schema_version (a default in the models, so that older code
    # building them needs no change), so the published schemas require it.
    for part in (body, *body.get("$defs", {}).values()):
        if "schema_version" in part.get("properties", {}):
            part["required"] = ["schema_version", *part.get("required", [])]
    return {"$schema": JSON_SCHEMA_DIALECT, **body, "title": title, "x-schema-version": SCHEMA_VERSION}


def schemas() -> dict[str, str]:
    """File name → JSON text of every contract schema, as committed under ``schema/``."""
    documents = {f"action.{c}.schema.json": _schema(m, f"{c} action") for c, m in ACTIONS.items()}
    documents["receipt.schema.json"] = _schema(Receipt, "receipt")
    documents["event.schema.json"] = _schema(Event, "event")
    return {name: json.dumps(doc, indent=2, ensure_ascii=False) + "\n" for name, doc in documents.items()}


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schemas().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
