"""Why one customer was or was not entered into each journey, from a dry run's journey log.

For every journey: its trigger and entry rules, then what the log says for this customer
(each entry with its arm, sends and end; each refusal with the rule and how), or, when
the log says nothing, whether the trigger ever matched (the customer's events of that
type, the scenario's hits). A schedule's entry condition is evaluated for everyone at
every occurrence and a false one is not logged; the explanation says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from orchestrator.core import World
from orchestrator.core.journey_log import LogRecord
from orchestrator.core.journey_spec import (
    DateTrigger,
    EventTrigger,
    JourneySpec,
    ScenarioTrigger,
    ScheduleTrigger,
    SegmentTrigger,
)
from orchestrator.errors import InputError
from orchestrator.service import codec
from orchestrator.service.simulate import Simulation


def resolve(who: str, sim: Simulation) -> str | None:
    """A customer id, or an identifier as ``<type>:<value>`` (``phone:+86…``), to the customer's id."""
    if who in sim.states:
        return who
    kind, _, value = who.partition(":")
    for cid, state in sorted(sim.states.items()):
        if value and state.profile.identity.get(kind) == value:
            return cid
    return None


def explain(who: str, world: World, sim: Simulation, lines: Sequence[bytes]) -> str:
    cid = resolve(who, sim)
    if cid is None:
        return f"{who}: no such customer in these events\n"
    state = sim.states[cid]
    ids = ", ".join(f"{k} {v}" for k, v in sorted(state.profile.identity.items()))
    records = [r for r in (LogRecord.model_validate_json(raw) for raw in sim.log) if r.customer_id == cid]
    events = _event_types(cid, lines)
    hits = Counter(h.scenario for o in sim.outcomes for h in o.hits if h.customer_id == cid)
    out = [f"{cid} ({ids or 'no identifiers'}): {sum(events.values())} event(s)"]
    for journey in sorted(world.newest.values(), key=lambda j: j.id):
        mine = [r for r in records if r.journey == journey.id]
        out += _journey(journey, mine, events, hits)
    return "\n".join(out) + "\n"


def _event_types(cid: str, lines: Sequence[bytes]) -> Counter[str]:
    types: Counter[str] = Counter()
    for line in lines:
        try:
            owner, event = codec.decode_event(line)
        except InputError:
            continue
        if owner == cid:
            types[event.type] += 1
    return types


def _journey(journey: JourneySpec, records: list[LogRecord], events: Counter[str], hits: Counter[str]) -> list[str]:
    entries = sum(1 for r in records if r.kind == "entered")
    refusals = [r for r in records if r.kind == "entry_refused"]
    verdict = f"entered {entries}×" if entries else "not entered"
    out = [
        f"\n{journey.id} v{journey.version}: {verdict}",
        f"  trigger: {_trigger(journey)}",
        f"  entry: {_rules(journey)}",
    ]
    arm: dict[str | None, str | None] = {}  # each instance's arm so far
    for r in records:
        if r.kind != "step":
            out.append(f"  {_line(r)}")
        elif r.variant is not None and arm.get(r.instance) != r.variant:
            out.append(f"  {r.at.isoformat(timespec='minutes')} assigned arm {r.variant} at {r.step}")
        arm[r.instance] = r.variant
    if not entries and not refusals:
        out.append(f"  why: {_silence(journey, events, hits)}")
    return out


def _trigger(journey: JourneySpec) -> str:
    t = journey.trigger
    if isinstance(t, ScenarioTrigger | EventTrigger):
        what = f"scenario {t.scenario}" if isinstance(t, ScenarioTrigger) else f"event {t.event}"
        return what + (f" when {t.when}" if t.when else "")
    if isinstance(t, SegmentTrigger):
        return f"segment {t.segment} (entered when it turns true)"
    if isinstance(t, ScheduleTrigger):
        return f"schedule {t.schedule!r} (customer's time zone)"
    assert isinstance(t, DateTrigger)  # noqa: S101 - the last kind of trigger
    return f"date from profile attribute {t.date.attribute}"


def _rules(journey: JourneySpec) -> str:
    entry = journey.entry
    cooldown = None if isinstance(entry.reentry, str) else entry.reentry.cooldown
    reentry = entry.reentry if isinstance(entry.reentry, str) else f"after a cooldown of {_span(cooldown)}"
    when = f"when {entry.when}; " if entry.when else ""
    return f"{when}re-entry {reentry}; at most {entry.max_instances} running"


def _span(span: timedelta | None) -> str:
    if span is None:
        return "-"
    return f"{span.days}d" if span == timedelta(days=span.days) else str(span)


def _line(r: LogRecord) -> str:
    at = r.at.isoformat(timespec="minutes")
    if r.kind == "entry_refused":
        return f"{at} refused by {r.rule}: {r.reason}"
    detail = " ".join(
        str(x) for x in (r.step, r.channel, f"arm {r.variant}" if r.variant else None, r.reason) if x is not None
    )
    return f"{at} {r.kind} {detail}".rstrip()


def _silence(journey: JourneySpec, events: Counter[str], hits: Counter[str]) -> str:
    t = journey.trigger
    if isinstance(t, ScenarioTrigger):
        return f"scenario {t.scenario} hit this customer {hits[t.scenario]} time(s)" + (
            "" if hits[t.scenario] else ": the trigger never matched"
        )
    if isinstance(t, EventTrigger):
        return f"{events[t.event]} {t.event} event(s)" + ("" if events[t.event] else ": the trigger never matched")
    if isinstance(t, ScheduleTrigger):
        return "a schedule asks everyone at each occurrence; a false entry condition is not logged per customer"
    if isinstance(t, SegmentTrigger):
        return "the segment condition never turned true for this customer"
    return "the date attribute is missing, or no occurrence fell inside the events' time"
