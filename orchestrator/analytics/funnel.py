"""Counting the journey log per journey and version: funnel, refusals, exits, suppressions, splits.

Customers and instances are told apart by (customer id, instance id): instance ids are
unique within one customer only. A step's funnel counts instances: reached it, sent
from it, whose message was delivered / clicked / replied to (from receipts), and that
reached the journey's goal afterwards. A split counts customers per arm (assignment is
a stable hash of journey, step and customer, so a customer stays in one arm) and the
customers of each arm who converted. A split is recognised as the step whose record first
carries an arm for an instance (or a different arm than before).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.analytics.reader import Log
from orchestrator.core.journey_log import LogRecord

Key = tuple[str, str]  # (customer id, instance id)
BASELINES = ("holdout", "control")


@dataclass
class StepCounts:
    step: str
    reached: set[Key] = field(default_factory=set)
    sent: set[Key] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)


@dataclass
class Tally:
    """Everything counted for one journey version, before statistics."""

    journey: str
    version: int
    entered: set[Key] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)  # by rule
    exits: Counter[str] = field(default_factory=Counter)  # by reason
    goals: set[Key] = field(default_factory=set)
    converted: set[str] = field(default_factory=set)  # customers
    steps: dict[str, StepCounts] = field(default_factory=dict)  # in the order first reached
    suppressed: Counter[str] = field(default_factory=Counter)  # "channel: reason"
    failures: Counter[str] = field(default_factory=Counter)  # "step: reason"
    arms: dict[str, dict[str, set[Key]]] = field(default_factory=dict)  # split step → arm → instances
    variant_of: dict[Key, str | None] = field(default_factory=dict)  # each instance's arm so far

    def step(self, name: str) -> StepCounts:
        return self.steps.setdefault(name, StepCounts(name))


def tally(log: Log, journey: str | None = None) -> list[Tally]:
    """One tally per (journey, version), sorted by journey then version."""
    tallies: dict[tuple[str, int], Tally] = {}
    for record in log.sorted():
        if journey is not None and record.journey != journey:
            continue
        key = (record.journey, record.version)
        t = tallies.get(key) or tallies.setdefault(key, Tally(record.journey, record.version))
        _count(t, record)
    return [tallies[k] for k in sorted(tallies)]


def _count(t: Tally, r: LogRecord) -> None:
    _COUNT[r.kind](t, r, (r.customer_id, r.instance or "-"))


def _entered(t: Tally, r: LogRecord, who: Key) -> None:
    t.entered.add(who)
    t.customers.add(r.customer_id)


def _refused(t: Tally, r: LogRecord, who: Key) -> None:
    t.refused[r.rule or "?"] += 1


def _step(t: Tally, r: LogRecord, who: Key) -> None:
    t.step(r.step or "?").reached.add(who)
    if r.variant is not None and t.variant_of.get(who) != r.variant:  # the step that assigned the arm
        t.arms.setdefault(r.step or "?", {}).setdefault(r.variant, set()).add(who)
    t.variant_of[who] = r.variant


def _sent(t: Tally, r: LogRecord, who: Key) -> None:
    counts = t.step(r.step or "?")
    counts.sent.add(who)
    counts.actions.add(r.action_id or "")


def _suppressed(t: Tally, r: LogRecord, who: Key) -> None:
    t.suppressed[f"{r.channel}: {r.reason}"] += 1


def _failed(t: Tally, r: LogRecord, who: Key) -> None:
    t.failures[f"{r.step}: {r.reason}"] += 1


def _goal(t: Tally, r: LogRecord, who: Key) -> None:
    t.goals.add(who)
    t.converted.add(r.customer_id)


def _exited(t: Tally, r: LogRecord, who: Key) -> None:
    t.exits[r.reason or "?"] += 1


_COUNT: dict[str, Callable[[Tally, LogRecord, Key], None]] = {
    "entered": _entered,
    "entry_refused": _refused,
    "step": _step,
    "sent": _sent,
    "suppressed": _suppressed,
    "failed": _failed,
    "goal": _goal,
    "exited": _exited,
}
