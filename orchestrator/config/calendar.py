"""The business calendar: Chinese public holidays and 调休 workdays, plus operators' own years.

``chinese-calendar`` knows the years up to its release (2004-2026 for 1.11); next year's
schedule is announced each winter: operators add it as ``journeys/calendar.yaml``::

    holidays: [2027-01-01, 2027-02-06, …]
    workdays: [2027-02-14, …]        # weekend days that are workdays

Years known to neither fall back to plain weekends, with a warning at load.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import chinese_calendar
from pydantic import BaseModel, ConfigDict

from orchestrator.core.calendar import BusinessCalendar

CALENDAR_FILE = "calendar.yaml"
log = logging.getLogger("orchestrator.config")
_WARNED: set[int] = set()  # say it once per process, not at every load


class CalendarFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()


def build_calendar(extra: CalendarFile | None, today: date) -> BusinessCalendar:
    holidays = set(chinese_calendar.holidays)
    workdays = set(chinese_calendar.workdays)
    years = {d.year for d in holidays}
    if extra is not None:
        holidays.update(extra.holidays)
        workdays.update(extra.workdays)
        years.update(d.year for d in (*extra.holidays, *extra.workdays))
    calendar = BusinessCalendar(frozenset(holidays), frozenset(workdays), frozenset(years))
    for year in (today.year, today.year + 1):
        if year not in years and year not in _WARNED:
            _WARNED.add(year)
            log.warning(
                "no holiday calendar for %d: business days there are plain weekdays; add %s",
                year,
                Path("journeys") / CALENDAR_FILE,
            )
    return calendar
