"""Per-staff working hours: the first instant a staff member's send may go, and the file's errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestrator.channels.hours import Hours, StaffHours, StaffHoursFile, load_staff_hours

CST = timezone(timedelta(hours=8))
HOURS = StaffHours(
    StaffHoursFile(
        default=Hours(hours="09:00-21:00"),
        staff={
            "S-li": Hours(hours="10:00-19:00", days=("mon", "tue", "wed", "thu", "fri")),
            "S-kashgar": Hours(hours="10:00-19:00", tz="Asia/Urumqi"),  # UTC+6
        },
    )
)


@pytest.mark.parametrize(
    ("staff", "at", "opens"),
    [
        ("S-wang", datetime(2026, 12, 2, 8, 0, tzinfo=CST), datetime(2026, 12, 2, 9, 0, tzinfo=CST)),  # default
        ("S-wang", datetime(2026, 12, 2, 12, 0, tzinfo=CST), datetime(2026, 12, 2, 12, 0, tzinfo=CST)),  # inside
        ("S-wang", datetime(2026, 12, 2, 21, 0, tzinfo=CST), datetime(2026, 12, 3, 9, 0, tzinfo=CST)),  # end: out
        ("S-li", datetime(2026, 12, 4, 19, 30, tzinfo=CST), datetime(2026, 12, 7, 10, 0, tzinfo=CST)),  # Fri → Mon
        ("S-li", datetime(2026, 12, 5, 11, 0, tzinfo=CST), datetime(2026, 12, 7, 10, 0, tzinfo=CST)),  # Saturday
        ("S-kashgar", datetime(2026, 12, 2, 11, 30, tzinfo=CST), datetime(2026, 12, 2, 12, 0, tzinfo=CST)),  # zone
        ("S-kashgar", datetime(2026, 12, 2, 12, 30, tzinfo=CST), datetime(2026, 12, 2, 12, 30, tzinfo=CST)),
    ],
)
def test_next_open_is_the_first_instant_inside_the_staff_members_hours(
    staff: str, at: datetime, opens: datetime
) -> None:
    assert HOURS.next_open(staff, at) == opens


def test_a_whole_day_runs_to_midnight() -> None:
    allday = StaffHours(StaffHoursFile(default=Hours(hours="00:00-24:00")))
    late = datetime(2026, 12, 2, 23, 59, 59, tzinfo=CST)
    assert allday.next_open("anyone", late) == late


FILE_ERRORS = [
    (
        'default: {hours: "9-17"}\n',
        "staff-hours.yaml:1:11: default.hours: '9-17' is not HH:MM-HH:MM (e.g. 09:00-21:00)",
    ),
    (
        'staff:\n  S-li: {hours: "18:00-09:00"}\n',
        "staff-hours.yaml:2:10: staff.S-li.hours: '18:00-09:00': the end must come after the start, on the same day",
    ),
    ("staff:\n  S-li: {days: [monday]}\n", "staff-hours.yaml:2:17: staff.S-li.days[0]: Input should be 'mon', 'tue'"),
    ("tz: Mars/Olympus\n", "staff-hours.yaml:1:1: tz: unknown time zone 'Mars/Olympus'"),
    (
        'staff:\n  S-li: {hour: "10:00-19:00"}\n',
        "staff-hours.yaml:2:10: staff.S-li.hour: Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("text", "message"), FILE_ERRORS)
def test_a_bad_file_names_the_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "staff-hours.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"staff-hours\.yaml") as caught:
        load_staff_hours(path)
    assert str(caught.value).replace(f"{tmp_path}/", "").startswith(message), str(caught.value)
