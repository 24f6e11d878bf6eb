"""Business days: weekdays, minus public holidays, plus the weekends made workdays (调休)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class BusinessCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)  # weekend days that are workdays
    known_years: frozenset[int] = field(default_factory=frozenset)

    def is_business_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def knows(self, day: date) -> bool:
        return day.year in self.known_years


def next_local_time(after: datetime, at: time, tz: ZoneInfo, calendar: BusinessCalendar | None = None) -> datetime:
    """The first ``at`` local time at or after ``after`` (on a business day if a calendar is given)."""
    local = after.astimezone(tz)
    day = local.date()
    for _ in range(366):
        candidate = datetime.combine(day, at, tz)
        if candidate >= local and (calendar is None or calendar.is_business_day(day)):
            return candidate
        day += timedelta(days=1)
    raise ValueError("no business day within a year")
