"""What one batch did, for metrics and logs; the shell never touches Prometheus itself."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.core import JourneySpec, StepFailure
from orchestrator.core.events import KNOWN_EVENT_TYPES

OTHER_TYPE = "other"  # the metrics label of every event type neither documented nor named by a journey


def labelled_types(journeys: Iterable[JourneySpec]) -> frozenset[str]:
    """The event types that keep their own metrics label: documented ones and those journeys name."""
    named: set[str] = set()
    stack: list[Any] = [j.model_dump(mode="json") for j in journeys]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            named.update(v for k, v in item.items() if k == "event" and isinstance(v, str))
            named.update(v for v in item.get("exit_on", ()) if isinstance(v, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return KNOWN_EVENT_TYPES | named


log = logging.getLogger("orchestrator.worker")
REASON_CHARS = 300  # a log line, not a document: the DLQ record has the whole reason


@dataclass(frozen=True)
class DeadLetterNote:
    """One input sent to the DLQ: ``customer_id`` is the record's key where keys are customer ids
    (the by-customer topic), None upstream (where a key may be anything, a phone number say)."""

    customer_id: str | None
    code: str
    where: str


@dataclass
class BatchReport:
    events: Counter[str] = field(default_factory=Counter)  # by event type
    rejected: Counter[str] = field(default_factory=Counter)  # by reason code
    duplicates: int = 0
    timers_fired: int = 0
    hits: Counter[str] = field(default_factory=Counter)  # by scenario
    journeys: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (what, journey, version)
    actions: list[tuple[str, float]] = field(default_factory=list)  # (channel, seconds from receipt to ack)
    republished: int = 0
    failures: list[StepFailure] = field(default_factory=list)
    conversions: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # (journey, version, variant)
    suppressed: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (reason, channel, outcome)
    steps: Counter[tuple[str, int, str, str]] = field(default_factory=Counter)  # (journey, version, step, variant)
    log_records: Counter[str] = field(default_factory=Counter)  # journey-log records by kind
    limited: Counter[str] = field(default_factory=Counter)  # per-customer limits that refused something
    quarantined: int = 0  # customers whose stored state could not be loaded (their inputs: DLQ)
    dead_letters: list[DeadLetterNote] = field(default_factory=list)
    identity: Counter[str] = field(default_factory=Counter)  # OneID: links, merges, retired, forwarded …
    identity_refused: Counter[tuple[str, str]] = field(default_factory=Counter)  # (identifier type, reason)


def log_problems(report: BatchReport, stage: str) -> None:
    """One log record per step failure and per dead-lettered input of a finished batch, with ids,
    never the event's content (names, phones and texts stay in Redis and the DLQ)."""
    for failure in report.failures:
        reason = failure.reason[:REASON_CHARS]
        log.warning(
            "step failed: customer %s, journey %s v%d, step %s: %s",
            failure.customer_id,
            failure.journey_id,
            failure.version,
            failure.step,
            reason,
            extra={
                "kind": "step_failure",
                "stage": stage,
                "customer_id": failure.customer_id,
                "journey": failure.journey_id,
                "version": failure.version,
                "step": failure.step,
                "instance_id": failure.instance_id,
                "reason": reason,
            },
        )
    for note in report.dead_letters:
        log.warning(
            "input dead-lettered (%s) at %s, customer %s",
            note.code,
            note.where,
            note.customer_id or "unknown",
            extra={
                "kind": "dead_letter",
                "stage": stage,
                "customer_id": note.customer_id,
                "reason": note.code,
                "where": note.where,
            },
        )
