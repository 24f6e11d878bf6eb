"""Which audiences a customer is in after a commit, and what the index must change.

A schedule journey's audience is the customers its entry condition (``entry.when``) may let
in: none given, everyone; a condition that holds now; one that refers to time passing
(``days_since_…``, ``now``) and holds now or at one of ``PROBE_DAYS`` later, with nothing
else changing (a dormancy rule such as "no order for 90 days" makes a customer a member
as soon as they could become dormant, not 90 days later, when no commit would notice).
A condition that fails to evaluate counts as a yes (the core then records the failure at
the occurrence, as it always did). A journey with ``reentry: never`` that the customer
already entered is left out. A segment journey's audience is the customers inside its
segment (``CustomerState.segments``), as the core decided at their last event.

The index is a pre-filter: at the occurrence the core judges the entry rules again, so an
entry that went stale is harmless; a missing one would lose a customer, hence the
conservative yes. A time window narrower than the gap between two probes (e.g. "exactly 45
days since the last order") is not seen: write such rules as thresholds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache, partial
from typing import Any

from orchestrator.core import CustomerState, World
from orchestrator.core.journey_spec import JourneySpec, ScheduleTrigger, SegmentTrigger
from orchestrator.core.runtime import Ctx, Effects, variables
from orchestrator.core.view import LAZY, LazyDict
from orchestrator.errors import StepError

# Largest first: a threshold on elapsed time ("≥ 90 days") holds at the far probe, so a
# member is found in one evaluation; a non-member pays for all of them.
PROBE_DAYS = (3650, 365, 90, 30, 7)
_TIME_WORDS = re.compile(r"\bdays_since_\w+|\bnow\b")
_DAY_FIELDS = ("days_since_last_order", "days_since_first_seen")
_PROBE_MOMENTS: dict[tuple[str, tzinfo | None], tuple[tuple[int, str], ...]] = {}


@dataclass(frozen=True, order=True)
class Entry:
    """One index entry: the customer is in ``journey``'s audience, on the wall clock of ``tz``."""

    journey: str
    tz: str
    customer_id: str


@dataclass(frozen=True)
class Membership:
    customer_id: str
    tz: str
    journeys: frozenset[str]

    def entries(self) -> frozenset[Entry]:
        return frozenset(Entry(j, self.tz, self.customer_id) for j in self.journeys)


@lru_cache(maxsize=1024)  # conditions come from the catalog: a few dozen
def time_dependent(condition: str) -> bool:
    """Does the condition's truth change with time alone (``days_since_…``, ``now``)?"""
    return _TIME_WORDS.search(condition) is not None


def audience_journeys(world: World, now: datetime) -> tuple[JourneySpec, ...]:
    """The journeys that have an audience at ``now``: live schedule and segment journeys."""
    return (*world.live(ScheduleTrigger, now), *world.live(SegmentTrigger, now))


def membership(state: CustomerState, world: World, now: datetime, only: str | None = None) -> Membership:
    """The audiences ``state`` is in at ``now`` (schedule journeys: see the module docstring);
    with ``only``, whether it is in that journey's (the others are not judged)."""
    inside: list[str] = []
    scope: dict[str, Any] | None = None
    for journey in world.live(ScheduleTrigger, now):
        if only is not None and journey.id != only:
            continue
        if journey.entry.reentry == "never" and journey.id in state.last_entered:
            continue  # it can never take this customer again
        condition = journey.entry.when
        if condition is None:
            inside.append(journey.id)
            continue
        if scope is None:
            scope = variables(state, None, Ctx(world=world, now=now, event=None), Effects())
        if _may_hold(condition, scope, world, now):
            inside.append(journey.id)
    segments = world.live(SegmentTrigger, now)
    inside += [j.id for j in segments if only in {None, j.id} and state.segments.get(j.id, False)]
    return Membership(state.customer_id, state.profile.tz, frozenset(inside))


def changes(before: Membership | None, after: Membership) -> tuple[frozenset[Entry], frozenset[Entry]]:
    """(entries to add before the state commit, entries to remove once it succeeded).

    ``before`` is the membership of the state the commit replaces (None: a new customer).
    A changed time zone moves every entry: the new zone's are added, the old zone's removed.
    """
    old = before.entries() if before is not None else frozenset()
    new = after.entries()
    return new - old, old - new


def _may_hold(condition: str, scope: dict[str, Any], world: World, now: datetime) -> bool:
    if _holds(condition, scope, world):
        return True
    if not time_dependent(condition):
        return False
    later = _Later(scope["profile"])
    probe = {**scope, "profile": later.view}
    for days, moment in _probe_moments(now):
        later.move(days)
        probe["now"] = moment
        if _holds(condition, probe, world):
            return True
    return False


def _probe_moments(now: datetime) -> tuple[tuple[int, str], ...]:
    """Each probe's days ahead and its ``now`` as conditions see it, worked out once per moment (a walk
    judges every customer at the same one). Keyed by the moment as written and its zone: equal instants
    in other zones read differently."""
    key = (now.isoformat(), now.tzinfo)
    found = _PROBE_MOMENTS.get(key)
    if found is None:
        if len(_PROBE_MOMENTS) >= 64:
            _PROBE_MOMENTS.clear()
        found = _PROBE_MOMENTS[key] = tuple((d, (now + timedelta(days=d)).isoformat()) for d in PROBE_DAYS)
    return found


class _Later:
    """The profile view some days later: the day counters moved on, the rest read from ``profile``.

    The view is lazy (``core.view``): its long histories are dumped on first read, so the
    probe is a lazy view too, over the same values, rather than a copy that would dump them.
    One probe view serves every probe: only its day counters change between them (conditions
    cannot change a view: the sandbox refuses it).
    """

    def __init__(self, profile: dict[str, Any]) -> None:
        self.days = {name: profile[name] for name in _DAY_FIELDS if profile.get(name) is not None}
        if not isinstance(profile, LazyDict):
            self.view = {**profile}
            return
        # What the view holds already, read without completing it (dict.copy would: it iterates).
        ready = {name: dict.__getitem__(profile, name) for name in dict.keys(profile)}
        unread = [name for name in LAZY if not dict.__contains__(profile, name)]
        pending = {name: partial(profile.__getitem__, name) for name in unread}
        self.view = LazyDict(ready, pending, (*ready, *pending))

    def move(self, days: int) -> None:
        for name, value in self.days.items():
            dict.__setitem__(self.view, name, value + days)


def _holds(condition: str, scope: dict[str, Any], world: World) -> bool:
    try:
        return world.conditions.evaluate(condition, scope)
    except StepError:
        return True  # the core records the failure when the occurrence reaches the customer
