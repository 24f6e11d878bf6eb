"""The journey log: one compact, versioned record per thing a journey did to a customer.

Kinds: ``entered`` (the instance started), ``entry_refused`` (a trigger matched but a rule
said no: ``rule`` names it, ``reason`` says how), ``step`` (a step was reached; a split's
record carries the arm it assigned), ``sent`` (``action_id``, ``channel``), ``suppressed``
(the contact policy deferred or dropped a send: ``reason``), ``failed`` (``reason``),
``goal`` (a conversion, inside the instance or attributed after it ended) and ``exited``
(``reason``: completed, goal, exited, holdout, timed_out, skipped, failed, retired).

Records are values of the core: ``process`` returns them in its Outcome, the worker
produces one input's records as one outbox entry to ``<prefix>.journey-log``, and
``simulate --log`` writes them one per line. ``v`` changes when a field changes meaning;
readers skip versions they do not know.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict

LOG_VERSION = 1
Kind = Literal["entered", "entry_refused", "step", "sent", "suppressed", "failed", "goal", "exited"]
KINDS: tuple[str, ...] = get_args(Kind)


class LogRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = LOG_VERSION
    at: AwareDatetime
    customer_id: str
    journey: str
    version: int
    kind: Kind
    instance: str | None = None
    variant: str | None = None
    step: str | None = None
    action_id: str | None = None
    channel: str | None = None
    reason: str | None = None
    rule: str | None = None

    def compact(self) -> dict[str, Any]:
        """The JSON form without empty fields: what the topic and ``simulate --log`` carry."""
        return self.model_dump(mode="json", exclude_none=True)
