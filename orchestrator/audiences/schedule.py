"""Occurrences of a schedule journey on one zone's wall clock, and the walk's cursor.

Each (journey, zone) has its own sequence of occurrences: ``0 10 * * 2`` is Tuesday 10:00
in Shanghai and, hours later, Tuesday 10:00 in Berlin. ``World.cron`` places them (a time
a DST gap skips runs just after the gap; a repeated hour runs once). An occurrence is walked
once; the next one is the first after the walk ended (a worker that was down for two weeks
fires one late occurrence, not two, as a late timer would).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from orchestrator.core import World
from orchestrator.core.journey_spec import JourneySpec, ScheduleTrigger


def scheduled_journeys(world: World, now: datetime | None = None) -> tuple[JourneySpec, ...]:
    """The journeys whose audience is walked at each occurrence: those in force at ``now``
    (None: the newest version of each, in force once every ``active_from`` has passed)."""
    if now is not None:
        return world.live(ScheduleTrigger, now)
    newest = [j for j in world.newest.values() if isinstance(j.trigger, ScheduleTrigger) and j.status == "live"]
    return tuple(sorted(newest, key=lambda j: (-j.priority, j.id)))


def expression(journey: JourneySpec) -> str:
    trigger = journey.trigger
    if not isinstance(trigger, ScheduleTrigger):
        raise ValueError(f"journey {journey.id} has no schedule")
    return trigger.schedule


def first_occurrence(journey: JourneySpec, tz: str, now: datetime, world: World) -> datetime:
    """The journey's first occurrence after ``now`` on the wall clock of ``tz``."""
    if world.cron is None:
        raise ValueError(f"journey {journey.id} has a schedule but the world has no cron (see World.cron)")
    return world.cron.next_after(expression(journey), now, ZoneInfo(tz))


def following_occurrence(journey: JourneySpec, tz: str, walked: datetime, now: datetime, world: World) -> datetime:
    """The occurrence after one whose walk ended at ``now``."""
    return first_occurrence(journey, tz, max(walked, now), world)


@dataclass(frozen=True)
class Cursor:
    """Where one partition's walk of one (journey, zone) stands.

    ``occurrence`` is the one being walked (or the next, when its time has not come);
    ``shard`` the index shard being read and ``after`` the last customer handed over in it
    ('' before the first). Persisted after each page is acknowledged, so a restarted worker
    goes on from there; a page handed over twice is ignored by the core (``triggers.occurrence``).
    ``schedule`` is the expression the occurrence belongs to: a journey whose schedule changed
    starts again at its new next occurrence.
    """

    schedule: str
    occurrence: datetime
    shard: int = 0
    after: str = ""

    def due(self, now: datetime) -> bool:
        return self.occurrence <= now

    def advanced(self, after: str) -> Cursor:
        return replace(self, after=after)

    def next_shard(self) -> Cursor:
        return replace(self, shard=self.shard + 1, after="")

    def dumps(self) -> str:
        data = {"schedule": self.schedule, "occurrence": self.occurrence.isoformat(), "shard": self.shard}
        return json.dumps({**data, "after": self.after}, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str | bytes) -> Cursor:
        """A stored cursor; ValueError (naming the field) when it is not one."""
        try:
            data = json.loads(raw)
            return cls(
                str(data["schedule"]),
                datetime.fromisoformat(data["occurrence"]),
                int(data["shard"]),
                str(data["after"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"audience cursor {raw!r}: {type(exc).__name__}: {exc}") from exc


def start(journey: JourneySpec, tz: str, now: datetime, world: World) -> Cursor:
    """The cursor of a (journey, zone) seen for the first time: its next occurrence, unwalked."""
    return Cursor(expression(journey), first_occurrence(journey, tz, now, world))


def finished(cursor: Cursor, journey: JourneySpec, tz: str, now: datetime, world: World) -> Cursor:
    """The cursor once every shard of ``cursor.occurrence`` was walked: the next occurrence."""
    return Cursor(expression(journey), following_occurrence(journey, tz, cursor.occurrence, now, world))
