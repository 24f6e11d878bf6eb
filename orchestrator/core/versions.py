"""Which version of each journey is in force at an instant (docs/decisions.md §7).

A version takes new entries from its ``active_from`` on (no ``active_from``: as soon as it is
loaded); among the versions in force the highest wins, drafts never. The instant is the
processing time the core is given, so every worker switches at the same moment whatever
moment it read the files; instances already running keep their version (or follow ``migrate:``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from orchestrator.core.journey_spec import JourneySpec


@dataclass(frozen=True)
class Versions:
    switches: tuple[datetime, ...]  # every distinct active_from, ascending
    in_force: tuple[Mapping[str, JourneySpec], ...]  # before the first switch, then after each

    @classmethod
    def of(cls, journeys: Iterable[JourneySpec]) -> Versions:
        runnable = [j for j in journeys if j.status != "draft"]  # a draft never runs, nor hides another version
        switches = tuple(sorted({j.active_from for j in runnable if j.active_from is not None}))
        epochs = tuple(
            _in_force(runnable, switches[index - 1] if index else None) for index in range(len(switches) + 1)
        )
        return cls(switches, epochs)

    def epoch(self, now: datetime) -> int:
        """How many switches ``now`` has passed: equal epochs have equal versions in force."""
        return bisect_right(self.switches, now)

    def at(self, now: datetime) -> Mapping[str, JourneySpec]:
        return self.in_force[self.epoch(now)]

    def latest(self) -> Mapping[str, JourneySpec]:
        """In force once every announced version is."""
        return self.in_force[-1]


def _in_force(journeys: list[JourneySpec], passed: datetime | None) -> dict[str, JourneySpec]:
    found: dict[str, JourneySpec] = {}
    for journey in journeys:
        if journey.active_from is not None and (passed is None or journey.active_from > passed):
            continue
        if journey.id not in found or journey.version > found[journey.id].version:
            found[journey.id] = journey
    return found
