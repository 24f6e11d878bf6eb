"""What one batch did, for metrics and logs; the shell never touches Prometheus itself."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from orchestrator.core import StepFailure


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
    timer_lateness: list[float] = field(default_factory=list)  # seconds from due to processed, per fired timer
    steps: Counter[tuple[str, int, str, str]] = field(default_factory=Counter)  # (journey, version, step, variant)
    log_records: Counter[str] = field(default_factory=Counter)  # journey-log records by kind
