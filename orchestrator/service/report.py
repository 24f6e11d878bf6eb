"""What one batch did, for metrics and logs; the shell never touches Prometheus itself."""

from __future__ import annotations

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
    limited: Counter[str] = field(default_factory=Counter)  # per-customer limits that refused something
    quarantined: int = 0  # customers whose stored state could not be loaded (their inputs: DLQ)
