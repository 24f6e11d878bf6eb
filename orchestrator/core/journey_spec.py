"""The journey language, as pydantic models of the operator YAML.

A step is a mapping with an ``id`` and exactly one kind key (``send``, ``wait``,
``exit``); ``next`` names the step that follows (default: the next in the list) and
``when`` skips the step when false.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from orchestrator.core.durations import Duration

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]

# Channels an action may leave on; each is a topic ``<prefix>.actions.<channel>``.
CHANNELS = frozenset({"sms", "wecom_private", "wecom_group", "call", "coupon", "webhook"})
STEP_KINDS = ("send", "wait", "exit")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SendSpec(_Spec):
    channel: str
    template: str = Field(min_length=1)
    # A channel worker must not deliver the action after this long.
    expires_after: Duration = timedelta(days=1)


class _Step(_Spec):
    id: StepId
    when: str | None = None
    next: StepId | None = None


class SendStep(_Step):
    send: SendSpec


class WaitStep(_Step):
    wait: Duration


class ExitStep(_Step):
    exit: Literal[True]


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in STEP_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return next((k for k in STEP_KINDS if hasattr(value, k)), None)


Step = Annotated[
    Annotated[SendStep, Tag("send")] | Annotated[WaitStep, Tag("wait")] | Annotated[ExitStep, Tag("exit")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message=f"a step needs exactly one of: {', '.join(STEP_KINDS)}",
    ),
]


class Trigger(_Spec):
    scenario: str = Field(min_length=1)


class Reentry(_Spec):
    # None: a customer enters at most once per occurrence and never while an instance is active.
    cooldown: Duration | None = None


class Entry(_Spec):
    when: str | None = None
    reentry: Reentry = Reentry()


class Goal(_Spec):
    event: str
    within: Duration


class JourneySpec(_Spec):
    id: Slug
    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    trigger: Trigger
    entry: Entry = Entry()
    goal: Goal | None = None
    exit_on: tuple[str, ...] = ()
    steps: tuple[Step, ...] = Field(min_length=1)

    def step(self, step_id: str) -> SendStep | WaitStep | ExitStep:
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
