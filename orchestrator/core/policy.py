"""Contact policy, decided in one place before any send.

Order: consent (refuse) → the journey's own send cap (refuse) → quiet hours and
business days in the customer's time zone (defer to the next allowed moment) →
frequency caps across journeys, per channel and platform quotas (defer until the window
frees a slot, or drop, as configured). Refusals may fall back to another channel when
the step says so. Arbitration: journeys triggered by the same input are entered in
priority order, so the higher-priority journey takes a capped slot first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.core.calendar import BusinessCalendar, next_local_time
from orchestrator.core.durations import Duration
from orchestrator.core.journey_spec import SEND_LOG_WINDOW, JourneySpec, LocalTime, within_send_log
from orchestrator.core.state import CustomerState, SentRecord

if TYPE_CHECKING:
    from orchestrator.core.ports import World

SEND_HISTORY = 200


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuietHours(_Spec):
    start: LocalTime = "21:00"
    end: LocalTime = "09:00"


class Cap(_Spec):
    name: str | None = None
    channel: str | None = Field(default=None, description="only sends on this channel count; none: every channel")
    per: Duration = Field(description=f"at most {SEND_LOG_WINDOW.days}d: the engine keeps that many days of sends")
    max: int = Field(ge=1)

    @field_validator("per")
    @classmethod
    def _kept(cls, value: timedelta) -> timedelta:
        return within_send_log(value)


class ContactPolicy(_Spec):
    quiet_hours: QuietHours | None = None
    business_days_only: bool = False  # sends wait for a business day (public holidays, 调休 workdays)
    caps: tuple[Cap, ...] = ()
    on_cap: Literal["defer", "drop"] = "defer"


@dataclass(frozen=True)
class Decision:
    """Allowed when ``reason`` is None; else refused (``until`` None) or deferred to ``until``."""

    reason: str | None = None
    until: datetime | None = None


ALLOWED = Decision()


def decide(state: CustomerState, journey: JourneySpec, channel: str, now: datetime, world: World) -> Decision:
    if state.profile.consent.get(channel) is False:
        return Decision("consent")
    cap = journey.send_cap
    if cap is not None:
        mine = [s for s in state.send_log if s.journey == journey.id and now - s.at < cap.per]
        if len(mine) >= cap.max:
            return Decision("journey_send_cap")
    policy = world.policy
    allowed_at = _allowed_moment(state, now, policy, world.calendar)
    if allowed_at > now:
        return Decision("quiet_hours", allowed_at)
    for rule in policy.caps:
        if rule.channel not in (None, channel):
            continue
        recent = sorted(s.at for s in state.send_log if now - s.at < rule.per and rule.channel in (None, s.channel))
        if len(recent) >= rule.max:
            name = rule.name or f"cap_{rule.channel or 'all'}_{rule.max}_per_{int(rule.per.total_seconds())}s"
            until = recent[len(recent) - rule.max] + rule.per if policy.on_cap == "defer" else None
            return Decision(name, until)
    return ALLOWED


def _allowed_moment(state: CustomerState, now: datetime, policy: ContactPolicy, calendar: BusinessCalendar) -> datetime:
    """``now`` when a send may go out now; else the next moment it may."""
    tz = ZoneInfo(state.profile.tz)
    local = now.astimezone(tz)
    quiet = policy.quiet_hours
    if quiet is not None and _in_quiet_hours(local.time(), quiet):
        end = time.fromisoformat(quiet.end)
        local = next_local_time(local, end, tz, calendar if policy.business_days_only else None)
    if policy.business_days_only and not calendar.is_business_day(local.date()):
        start = time.fromisoformat(quiet.end) if quiet else time(9, 0)
        local = next_local_time(local, start, tz, calendar)
    return local if local > now else now


def _in_quiet_hours(moment: time, quiet: QuietHours) -> bool:
    start, end = time.fromisoformat(quiet.start), time.fromisoformat(quiet.end)
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def record_send(state: CustomerState, journey: JourneySpec, channel: str, now: datetime) -> CustomerState:
    log = [s for s in state.send_log if now - s.at < SEND_LOG_WINDOW]
    log.append(SentRecord(at=now, channel=channel, journey=journey.id))
    return state.model_copy(update={"send_log": tuple(log[-SEND_HISTORY:])})
