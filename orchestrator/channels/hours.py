"""Per-staff working hours: a WeCom 1v1 send in a staff member's name waits for their hours.

A file (``orchestrator channel … --staff-hours FILE``) gives a default and per-staff hours,
each in a time zone (the staff member's; the file's ``tz`` when a staff entry names none)::

    tz: Asia/Shanghai
    default: {hours: "09:00-21:00"}                           # every day
    staff:
      S-li: {hours: "10:00-19:00", days: [mon, tue, wed, thu, fri]}
      S-wang: {hours: "13:00-22:00", tz: Asia/Urumqi}

``next_open(staff, at)`` is the first instant from ``at`` on inside that staff member's hours
(``at`` itself inside them). Every problem in the file names its line and field.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.config.problems import dotted, problem
from orchestrator.config.yaml_loader import load_yaml

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]|24):([0-5][0-9])$")


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from exc
    return name


class Hours(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hours: str = Field(default="09:00-21:00", description="HH:MM-HH:MM, local; the end may be 24:00")
    days: tuple[Weekday, ...] = Field(default=WEEKDAYS, min_length=1)
    tz: str | None = None

    @field_validator("hours")
    @classmethod
    def _span(cls, value: str) -> str:
        match = SPAN.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not HH:MM-HH:MM (e.g. 09:00-21:00)")
        start, end = int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])
        if end > 24 * 60 or end <= start:
            raise ValueError(f"{value!r}: the end must come after the start, on the same day (at most 24:00)")
        return value

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return value if value is None else _zone(value)

    def window(self) -> tuple[int, int]:
        """Start and end, in minutes after local midnight."""
        match = SPAN.match(self.hours)
        assert match is not None  # noqa: S101 - checked when loaded
        return int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])


class StaffHoursFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tz: str = "Asia/Shanghai"
    default: Hours = Hours()
    staff: dict[str, Hours] = Field(default_factory=dict)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)

    @model_validator(mode="after")
    def _no_empty_ids(self) -> StaffHoursFile:
        if any(not key.strip() for key in self.staff):
            raise ValueError("a staff id is empty")
        return self


class StaffHours:
    def __init__(self, spec: StaffHoursFile) -> None:
        self.spec = spec

    def of(self, staff_id: str) -> Hours:
        return self.spec.staff.get(staff_id, self.spec.default)

    def next_open(self, staff_id: str, at: datetime) -> datetime:
        """The first instant from ``at`` on inside ``staff_id``'s working hours."""
        hours = self.of(staff_id)
        tz = ZoneInfo(hours.tz or self.spec.tz)
        start, end = hours.window()
        local = at.astimezone(tz)
        for ahead in range(8):  # some day of the coming week is a working day (days is never empty)
            day = local.date() + timedelta(days=ahead)
            if WEEKDAYS[day.weekday()] not in hours.days:
                continue
            opens = datetime.combine(day, time(start // 60, start % 60), tz)
            closes = datetime.combine(day, time(0), tz) + timedelta(minutes=end)
            if local < closes:
                return max(local, opens)
        raise AssertionError("unreachable: a week always holds a working day")


def load_staff_hours(path: Path) -> StaffHours:
    """The file, or ValueError listing each problem as ``file:line:column: field: message``."""
    try:
        loaded = load_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ValueError(f"{path}:{line}:1: YAML syntax: {getattr(exc, 'problem', None) or exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from exc
    try:
        return StaffHours(StaffHoursFile.model_validate(loaded.data or {}))
    except ValidationError as exc:
        found = []
        errors = exc.errors(include_url=False)
        for err in errors:
            if err["type"] == "too_short" and any(
                e is not err and e["loc"][: len(err["loc"])] == err["loc"] for e in errors
            ):
                continue  # "no items left" only echoes the errors of the items themselves
            where = tuple(err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            found.append(str(problem(path, loaded.position_of(where), dotted(where) or "(top)", message)))
        raise ValueError("\n".join(found)) from exc
