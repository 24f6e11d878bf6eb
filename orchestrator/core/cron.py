"""Five-field cron (minute hour day-of-month month day-of-week), evaluated in local time.

Fields take ``*``, numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n`` / ``a-b/n``;
weekday 0 or 7 is Sunday. When both day fields are restricted, either may match (as in cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")
SEARCH_DAYS = 366 * 5


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"cron {text!r} needs 5 fields (minute hour day month weekday), got {len(fields)}")
        parsed = [_field(f, lo, hi, name) for f, (lo, hi), name in zip(fields, _RANGES, _NAMES, strict=True)]
        weekdays = frozenset(0 if d == 7 else d for d in parsed[4])
        return cls(parsed[0], parsed[1], parsed[2], parsed[3], weekdays, fields[2] == "*", fields[4] == "*")

    def _day_matches(self, moment: datetime) -> bool:
        if moment.month not in self.months:
            return False
        dom = moment.day in self.days
        dow = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first matching local minute strictly after ``moment``, as an aware datetime."""
        local = moment.astimezone(tz)
        day = local.date()
        for _ in range(SEARCH_DAYS):
            if self._day_matches(datetime.combine(day, time(), tz)):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime.combine(day, time(hour, minute), tz)
                        if candidate > local:
                            return candidate
            day += timedelta(days=1)
        raise ValueError("cron never matches within five years")


def _field(text: str, lo: int, hi: int, name: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = _int(step_text, name) if step_text else 1
        if body == "*":
            start, end = lo, hi
        elif "-" in body:
            start, end = (_int(x, name) for x in body.split("-", 1))
        else:
            start = end = _int(body, name)
        if not (lo <= start <= end <= hi) or step < 1:
            raise ValueError(f"cron {name} {part!r} is outside {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _int(text: str, name: str) -> int:
    if not text.isdigit():
        raise ValueError(f"cron {name} {text!r} is not a number")
    return int(text)
