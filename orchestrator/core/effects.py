"""What ``process`` returns besides the new state: actions, hits, timers, step failures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from msgspec import Struct
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from orchestrator.core.journey_log import LogRecord
from orchestrator.core.population import Observation
from orchestrator.core.state import CustomerState, Timer


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JourneyRef(_Value):
    id: str
    version: int
    step: str
    variant: str | None = None


# The version of the action and receipt records (schema/*.schema.json). A field added with a
# default keeps the version; renaming, removing or changing the meaning of one bumps it.
SCHEMA_VERSION: Literal[1] = 1


class Action(_Value):
    """An outbound message for a channel worker; ``action_id`` is its idempotency key."""

    schema_version: Literal[1] = SCHEMA_VERSION
    action_id: str
    channel: str
    customer_id: str
    to: dict[str, str]
    content: dict[str, Any]
    journey: JourneyRef
    scenario: str | None
    created_at: AwareDatetime
    not_after: AwareDatetime


class ScenarioHit(_Value):
    scenario: str
    customer_id: str
    occurrence: str  # stable per moment: the same moment never yields two hits
    at: AwareDatetime
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def hit_id(self) -> str:
        return f"{self.scenario}:{self.customer_id}:{self.occurrence}"


class Suppressed(_Value):
    """A send the policy did not allow; counted by reason, visible in simulate output."""

    customer_id: str
    journey_id: str
    version: int
    step: str
    channel: str
    reason: str
    deferred_until: AwareDatetime | None = None  # None: dropped (or fell back)


class Conversion(_Value):
    """A customer reached a journey's goal: while running, or after the instance ended (holdouts too)."""

    customer_id: str
    journey_id: str
    version: int
    variant: str | None
    instance_id: str
    event_id: str


class StepFailure(_Value):
    customer_id: str
    journey_id: str
    version: int
    step: str
    instance_id: str
    reason: str


def action_id(journey: str, version: int, instance: str, step: str, customer: str) -> str:
    """The deterministic idempotency key: the same occurrence always gets the same id.

    ``step`` is the step id, with ``#n`` for the n-th run of the step in a loop.
    """
    return f"{journey}:{version}:{instance}:{step}:{customer}"


class Outcome(Struct, frozen=True, kw_only=True):
    """Everything one input did to one customer. ``duplicate`` means it was seen before.

    A plain frozen struct: ``process`` builds one per input from values it already holds (its
    state, validated records), so nothing here needs validating; it is never stored or sent.
    """

    state: CustomerState
    actions: tuple[Action, ...] = ()
    hits: tuple[ScenarioHit, ...] = ()
    timers_set: tuple[Timer, ...] = ()
    timers_cancelled: tuple[str, ...] = ()
    failures: tuple[StepFailure, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()
    conversions: tuple[Conversion, ...] = ()
    journey_events: tuple[tuple[str, str, int], ...] = ()  # (what, journey id, version)
    observations: tuple[Observation, ...] = ()  # for World.population (see core.population)
    log: tuple[LogRecord, ...] = ()  # the journey log (see core.journey_log)
    limited: tuple[str, ...] = ()  # per-customer limits that refused something (see core.limits)
    duplicate: bool = False

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Outcome:
        """A copy with ``update``'s fields replaced (as the core's other values are copied)."""
        return msgspec.structs.replace(self, **(update or {}))
