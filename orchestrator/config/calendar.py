"""The business calendar: Chinese public holidays and 调休 workdays, plus operators' own years.

``chinese-calendar`` knows the years up to its release (2004-2026 for 1.11); next year's
schedule is announced each winter: operators add it as ``journeys/calendar.yaml``::

    holidays: [2027-01-01, 2027-02-06, …]
    workdays: [2027-02-14, …]        # weekend days that are workdays

Years known to neither fall back to plain weekends. That matters only to journeys that
count business days (``wait_until: {business_day: true}``, ``business_days_only`` in the
policy): those are named in a warning, once per process, for the years they will run in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import chinese_calendar
from pydantic import BaseModel, ConfigDict

from orchestrator.core.calendar import BusinessCalendar

CALENDAR_FILE = "calendar.yaml"
log = logging.getLogger("orchestrator.config")
_WARNED: set[str] = set()  # say it once per process, not at every load


class CalendarFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()


def build_calendar(extra: CalendarFile | None) -> BusinessCalendar:
    holidays = set(chinese_calendar.holidays)
    workdays = set(chinese_calendar.workdays)
    years = {d.year for d in holidays}
    if extra is not None:
        holidays.update(extra.holidays)
        workdays.update(extra.workdays)
        years.update(d.year for d in (*extra.holidays, *extra.workdays))
    return BusinessCalendar(frozenset(holidays), frozenset(workdays), frozenset(years))


def calendar_gaps(calendar: BusinessCalendar, users: list[str], years: Iterable[int], folder: Path) -> list[str]:
    """A warning per year that ``users`` (what counts business days) run in and the calendar lacks."""
    if not users:
        return []
    found = []
    for year in sorted(set(years) - calendar.known_years):
        found.append(
            f"no holiday calendar for {year}: {', '.join(users)} count business days there as plain weekdays; "
            f"add its holidays and 调休 workdays to {folder / CALENDAR_FILE}"
        )
    return found


def warn_once(messages: Iterable[str]) -> None:
    for message in messages:
        if message not in _WARNED:
            _WARNED.add(message)
            log.warning("%s", message)
