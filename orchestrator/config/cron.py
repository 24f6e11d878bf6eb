"""Cron schedules on croniter: names (MON, JAN), @weekly, ``1#1`` (the first Monday), ``L``
(the month's last day), evaluated on the customer's wall clock and safe across DST.

croniter is used rather than a hand-written parser: it knows every one of these forms and
is maintained. It iterates *local wall-clock* times; each is then placed in the customer's
zone, so a run inside a DST gap happens just after the gap, and a run in the repeated hour
happens once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
FIELDS = "minute hour day-of-month month day-of-week"
SEARCH = 1000  # candidates tried before giving up (a schedule matching only skipped wall times)
_SAMPLE_START = datetime(2026, 1, 1)  # noqa: DTZ001 - croniter iterates naive wall-clock times


class CroniterSchedules:
    """Implements ``orchestrator.core.cron.CronPort``."""

    def next_after(self, expression: str, moment: datetime, tz: ZoneInfo) -> datetime:
        local = moment.astimezone(tz).replace(tzinfo=None)
        runs = croniter(expression, local)
        for _ in range(SEARCH):
            try:
                wall = runs.get_next(datetime)
            except CroniterBadDateError as exc:
                raise ValueError(f"schedule {expression!r} never runs") from exc
            candidate = placed(wall, tz)
            if candidate > moment:
                return candidate
        raise ValueError(f"schedule {expression!r} has no run after {moment.isoformat()}")


def placed(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``tz``; one that a DST gap skips moves forward by the gap."""
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def problem(expression: str) -> str | None:
    """Why ``expression`` is not a schedule, in an operator's words (None: it is one)."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() in ALIASES:
            return None
        return f"unknown shortcut {text!r}; use one of {', '.join(ALIASES)} or five fields ({FIELDS})"
    fields = text.split()
    if len(fields) != 5:
        return f"a schedule has five fields ({FIELDS}), got {len(fields)}: e.g. '0 10 * * TUE'"
    try:
        croniter(text, _SAMPLE_START).get_next(datetime)
    except CroniterBadDateError:
        return f"{text!r} never runs (no such date)"
    except (ValueError, TypeError) as exc:  # croniter's errors are ValueErrors (one a TypeError)
        return (
            f"{text!r} is not a schedule ({exc}); fields: {FIELDS}, with numbers, names (MON, JAN), "
            "ranges 1-5, lists 1,3, steps */2, 1#1 (first Monday), L (last day of the month)"
        )
    return None
