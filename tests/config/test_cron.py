"""Schedules as retail runs them (会员日 on the first Monday, month-end campaigns), on croniter,
in the customer's own zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orchestrator.config.cron import CroniterSchedules, problem
from orchestrator.core import World
from tests.builders import PRODUCTS, FakeConditions, FakeRenderer, journey, make_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
CRON = CroniterSchedules()


def _runs(expression: str, start: datetime, tz: ZoneInfo, count: int) -> list[datetime]:
    found, moment = [], start
    for _ in range(count):
        moment = CRON.next_after(expression, moment, tz)
        found.append(moment)
    return found


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 10 * * 2", ["2026-11-24T10:00:00+08:00", "2026-12-01T10:00:00+08:00"]),  # fruit-day, as before
        ("0 10 * * TUE", ["2026-11-24T10:00:00+08:00", "2026-12-01T10:00:00+08:00"]),
        ("@weekly", ["2026-11-22T00:00:00+08:00", "2026-11-29T00:00:00+08:00"]),  # Sunday midnight
        ("0 10 * * MON#1", ["2026-12-07T10:00:00+08:00", "2027-01-04T10:00:00+08:00"]),  # 会员日: first Monday
        ("0 10 * * 1#1", ["2026-12-07T10:00:00+08:00", "2027-01-04T10:00:00+08:00"]),
        ("0 20 L * *", ["2026-11-30T20:00:00+08:00", "2026-12-31T20:00:00+08:00"]),  # month end
        ("0 20 L FEB *", ["2027-02-28T20:00:00+08:00", "2028-02-29T20:00:00+08:00"]),
        ("30 9 1 JAN,JUL *", ["2027-01-01T09:30:00+08:00", "2027-07-01T09:30:00+08:00"]),
    ],
)
def test_schedules_in_the_customers_zone(expression: str, expected: list[str]) -> None:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    assert [run.isoformat() for run in _runs(expression, start, SHANGHAI, 2)] == expected


def test_the_next_run_is_strictly_after_the_moment() -> None:
    tuesday_ten = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    assert CRON.next_after("0 10 * * TUE", tuesday_ten, SHANGHAI) == tuesday_ten + timedelta(days=7)
    # the same instant written in UTC gives the same answer
    assert CRON.next_after("0 10 * * TUE", tuesday_ten.astimezone(UTC), SHANGHAI) == tuesday_ten + timedelta(days=7)


def test_a_run_in_the_spring_gap_happens_just_after_it() -> None:
    # 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT; 02:30 does not exist that day.
    start = datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)
    runs = _runs("30 2 * * *", start, NEW_YORK, 3)
    assert [r.isoformat() for r in runs] == [
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]
    assert runs == sorted(runs)


def test_a_run_in_the_repeated_autumn_hour_happens_once() -> None:
    # 2026-11-01: New York clocks go back from 02:00 EDT to 01:00 EST; 01:30 happens twice.
    start = datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK)
    runs = _runs("30 1 * * *", start, NEW_YORK, 2)
    assert [r.isoformat() for r in runs] == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    hourly = _runs("0 * * * *", datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK), NEW_YORK, 3)
    assert [r.astimezone(UTC).hour for r in hourly] == [5, 7, 8]  # 01:00 EDT, then 02:00 EST: never twice


def test_a_weekly_run_stays_at_local_ten_across_dst() -> None:
    start = datetime(2026, 10, 26, 12, 0, tzinfo=NEW_YORK)
    runs = _runs("0 10 * * MON", start, NEW_YORK, 2)
    assert [(r.hour, r.utcoffset()) for r in runs] == [(10, timedelta(hours=-5)), (10, timedelta(hours=-5))]
    assert runs[0].date().isoformat() == "2026-11-02"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 10 * * MON", None),
        ("@weekly", None),
        (
            "@reboot",
            "unknown shortcut '@reboot'; use one of @yearly, @annually, @monthly, @weekly, @daily, "
            "@midnight, @hourly or five fields (minute hour day-of-month month day-of-week)",
        ),
        (
            "0 10 * *",
            "a schedule has five fields (minute hour day-of-month month day-of-week), got 4: e.g. '0 10 * * TUE'",
        ),
        (
            "0 0 10 * * MON",
            "a schedule has five fields (minute hour day-of-month month day-of-week), got 6: e.g. '0 10 * * TUE'",
        ),
        ("0 0 31 2 *", "'0 0 31 2 *' never runs (no such date)"),
    ],
)
def test_validation_says_what_a_schedule_is(expression: str, message: str | None) -> None:
    assert problem(expression) == message


def test_an_unknown_name_is_explained() -> None:
    found = problem("0 10 * * MONDAY")
    assert found is not None
    assert found.startswith("'0 10 * * MONDAY' is not a schedule (")
    assert "names (MON, JAN)" in found
    assert "1#1 (first Monday), L (last day of the month)" in found


def test_a_world_with_schedule_journeys_needs_cron() -> None:
    scheduled = journey(trigger={"schedule": "@weekly"})
    with pytest.raises(ValueError, match="journeys replenish have a schedule: World needs cron"):
        World(journeys=(scheduled,), products=PRODUCTS, renderer=FakeRenderer(), conditions=FakeConditions())
    assert make_world(scheduled).cron is not None
