"""The journey language, as pydantic models of the operator YAML.

A journey has one ``trigger`` (a mapping with exactly one of ``scenario``, ``event``,
``segment``, ``schedule``, ``date``) and a list of ``steps``. A step is a mapping with an
``id`` and exactly one kind key (``send``, ``wait``, ``wait_until``, ``wait_for``,
``branch``, ``split``, ``update``, ``task``, ``goto``, ``exit``); ``next`` names the step
that follows (default: the next in the list; after the last, the journey completes) and
``when`` skips the step when false.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator

from orchestrator.core.durations import Duration, SignedDuration, format_duration

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
LocalTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["10:00"])]

# Channels an action may leave on; each is a topic ``<prefix>.actions.<channel>``.
CHANNELS = frozenset({"sms", "wecom_private", "wecom_group", "call", "coupon", "webhook", "task"})
STEP_KINDS = ("send", "wait", "wait_until", "wait_for", "branch", "split", "update", "task", "goto", "exit")
TRIGGER_KINDS = ("scenario", "event", "segment", "schedule", "date")
WAITING_KINDS = frozenset({"wait", "wait_until", "wait_for", "task"})
# How long each customer's sends are remembered (CustomerState.send_log): the longest cap window.
SEND_LOG_WINDOW = timedelta(days=31)


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- steps -------------------------------------------------------------------------


class Fallback(_Spec):
    channel: str
    template: str = Field(min_length=1)


class SendSpec(_Spec):
    channel: str
    template: str = Field(min_length=1)
    expires_after: Duration = timedelta(days=1)  # a channel must not deliver it later than this
    coupon: dict[str, str] | None = Field(default=None, examples=[{"pool": "REPLENISH_20"}])
    points: int | None = Field(default=None, ge=1, description="reward points granted with the message")
    fallback: Fallback | None = Field(default=None, description="used when consent or the recipient is missing")
    on_failed: StepId | None = Field(
        default=None,
        description="the channel reported message.failed for this send while the instance waits: go to this step",
    )


class WaitUntilSpec(_Spec):
    at: LocalTime
    business_day: bool = False
    not_before: Duration = timedelta(0)


class WaitForSpec(_Spec):
    event: str
    when: str | None = None
    timeout: Duration
    on_timeout: StepId | None = None  # None: the journey ends when the wait times out


class Case(_Spec):
    when: str
    next: StepId


class BranchSpec(_Spec):
    cases: tuple[Case, ...] = Field(min_length=1)
    otherwise: StepId | None = None  # None: the journey completes when no case holds


class Variant(_Spec):
    weight: int = Field(ge=0, le=100)
    next: StepId | None = None  # None: a holdout; the instance completes here


class UpdateSpec(_Spec):
    set: dict[str, str | int | float | bool] = Field(default_factory=dict)
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    points: int = 0


class TaskSpec(_Spec):
    """A human-confirmed step: an associate does it and reports task.completed / task.skipped."""

    channel: str = Field(description="what the associate does: wecom_private, call, …")
    template: str = Field(min_length=1)
    assignee: str = "store_associate"
    sla: Duration
    on_timeout: StepId | None = None
    on_skipped: StepId | None = None


class GotoSpec(_Spec):
    step: StepId
    max: int = Field(ge=1, le=100, description="jumps allowed per instance; then the step falls through")


class _Step(_Spec):
    id: StepId
    when: str | None = None
    next: StepId | None = None


class SendStep(_Step):
    send: SendSpec


class WaitStep(_Step):
    wait: Duration


class WaitUntilStep(_Step):
    wait_until: WaitUntilSpec


class WaitForStep(_Step):
    wait_for: WaitForSpec


class BranchStep(_Step):
    branch: BranchSpec


class SplitStep(_Step):
    split: dict[str, Variant] = Field(min_length=1)


class UpdateStep(_Step):
    update: UpdateSpec


class TaskStep(_Step):
    task: TaskSpec


class GotoStep(_Step):
    goto: GotoSpec


class ExitStep(_Step):
    exit: Literal[True]


def _kind_of(kinds: tuple[str, ...]) -> Any:
    def kind(value: Any) -> str | None:
        if isinstance(value, dict):
            present = [k for k in kinds if k in value]
            return present[0] if len(present) == 1 else None
        return next((k for k in kinds if getattr(value, k, None) is not None), None)

    return kind


Step = Annotated[
    Annotated[SendStep, Tag("send")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[WaitUntilStep, Tag("wait_until")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[SplitStep, Tag("split")]
    | Annotated[UpdateStep, Tag("update")]
    | Annotated[TaskStep, Tag("task")]
    | Annotated[GotoStep, Tag("goto")]
    | Annotated[ExitStep, Tag("exit")],
    Discriminator(
        _kind_of(STEP_KINDS),
        custom_error_type="step_kind",
        custom_error_message=f"a step needs exactly one of: {', '.join(STEP_KINDS)}",
    ),
]
AnyStep = (
    SendStep
    | WaitStep
    | WaitUntilStep
    | WaitForStep
    | BranchStep
    | SplitStep
    | UpdateStep
    | TaskStep
    | GotoStep
    | ExitStep
)


def step_kind(step: AnyStep) -> str:
    return next(k for k in STEP_KINDS if getattr(step, k, None) is not None)


# --- triggers ----------------------------------------------------------------------


class ScenarioTrigger(_Spec):
    scenario: str = Field(min_length=1)
    when: str | None = None


class EventTrigger(_Spec):
    event: str = Field(min_length=1)
    when: str | None = None


class SegmentTrigger(_Spec):
    """Enter when this condition over the profile turns from false to true."""

    segment: str = Field(min_length=1)


class ScheduleTrigger(_Spec):
    """A cron schedule (minute hour day month weekday, names, @weekly, 1#1, L) in the customer's time zone."""

    schedule: str = Field(min_length=1, examples=["0 10 * * TUE", "@weekly", "0 10 * * MON#1", "0 20 L * *"])


class DateSpec(_Spec):
    attribute: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="profile attribute holding a date")
    offset: SignedDuration = timedelta(0)
    at: LocalTime = "10:00"
    yearly: bool = False


class DateTrigger(_Spec):
    date: DateSpec


Trigger = Annotated[
    Annotated[ScenarioTrigger, Tag("scenario")]
    | Annotated[EventTrigger, Tag("event")]
    | Annotated[SegmentTrigger, Tag("segment")]
    | Annotated[ScheduleTrigger, Tag("schedule")]
    | Annotated[DateTrigger, Tag("date")],
    Discriminator(
        _kind_of(TRIGGER_KINDS),
        custom_error_type="trigger_kind",
        custom_error_message=f"a trigger needs exactly one of: {', '.join(TRIGGER_KINDS)}",
    ),
]


# --- the journey -------------------------------------------------------------------


class Cooldown(_Spec):
    cooldown: Duration


class Entry(_Spec):
    when: str | None = None
    # never: once per customer; always: whenever triggered; {cooldown: 30d}: not again within 30 days.
    reentry: Literal["never", "always"] | Cooldown = "always"
    max_instances: int = Field(default=1, ge=1, le=20, description="concurrent instances per customer")


class Goal(_Spec):
    event: str
    when: str | None = None
    within: Duration


class SendCap(_Spec):
    max: int = Field(ge=1)
    per: Duration = Field(description=f"at most {SEND_LOG_WINDOW.days}d: the engine keeps that many days of sends")

    @field_validator("per")
    @classmethod
    def _kept(cls, value: timedelta) -> timedelta:
        return within_send_log(value)


def within_send_log(per: timedelta) -> timedelta:
    """A cap window the send log can count: it keeps SEND_LOG_WINDOW of sends per customer."""
    if per > SEND_LOG_WINDOW:
        days = SEND_LOG_WINDOW.days
        raise ValueError(
            f"a cap can look back at most {days}d: the engine keeps {days} days of each customer's sends "
            f"(the send log of the stored state), so a cap over {format_duration(per)} would not be enforced; "
            "for 'once a quarter' use entry.reentry: {cooldown: 90d}"
        )
    return per


class Migration(_Spec):
    from_version: int = Field(ge=1)
    steps: dict[str, StepId] = Field(description="old step id → new step id; unmapped instances stay")


class Sample(_Spec):
    """Example values to render templates and conditions against in `orchestrator validate`."""

    profile: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)
    scenario: dict[str, Any] = Field(default_factory=dict)


Status = Literal["draft", "live", "paused", "stopped"]
STATUS_HELP = (
    "draft: validated, never run; live: runs; paused: takes no new entries, running instances go on; "
    "stopped: takes no new entries, running instances end at their next step"
)


class JourneySpec(_Spec):
    id: Slug
    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    active_from: AwareDatetime | None = Field(
        default=None,
        description="this version takes new entries from this instant on (ISO time with zone); "
        "absent: as soon as a worker loads it",
    )
    status: Status = Field(default="live", description=STATUS_HELP)
    start_at: AwareDatetime | None = Field(default=None, description="no entries before (ISO time with zone)")
    end_at: AwareDatetime | None = Field(default=None, description="no entries from this moment on")
    priority: int = Field(default=0, description="higher wins when journeys compete for a capped send")
    trigger: Trigger
    entry: Entry = Entry()
    goal: Goal | None = None
    exit_on: tuple[str, ...] = ()
    send_cap: SendCap | None = None
    migrate: Migration | None = None
    sample: Sample = Sample()
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("end_at")
    @classmethod
    def _window(cls, end_at: datetime | None, info: ValidationInfo) -> datetime | None:
        start_at = info.data.get("start_at")
        if start_at and end_at and end_at <= start_at:
            raise ValueError(f"end_at {end_at.isoformat()} must come after start_at {start_at.isoformat()}")
        return end_at

    def takes_entries(self, now: datetime) -> bool:
        """Live, and inside its start_at / end_at window."""
        if self.status != "live":
            return False
        return (self.start_at is None or now >= self.start_at) and (self.end_at is None or now < self.end_at)

    def step(self, step_id: str) -> AnyStep:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def following(self, step_id: str) -> str | None:
        """The step after ``step_id``: its ``next``, else the next in the list, else None."""
        ids = [s.id for s in self.steps]
        current = self.steps[ids.index(step_id)]
        if current.next is not None:
            return current.next
        index = ids.index(step_id) + 1
        return ids[index] if index < len(ids) else None

    def channels(self) -> set[str]:
        found: set[str] = set()
        for step in self.steps:
            if isinstance(step, SendStep):
                found.add(step.send.channel)
                if step.send.fallback:
                    found.add(step.send.fallback.channel)
            elif isinstance(step, TaskStep):
                found.add("task")
        return found


def is_identifier(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) is not None
