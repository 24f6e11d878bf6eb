"""Replay after a detector fix, pure: recompute what detectors derive from a customer's stored
histories — lifecycle stage, churn risk, value tier and RFM, purchase-cycle and standing timers —
as a new detector version would have left them, without entering a journey or sending.

The scenario hits such a recomputation implies (a stage that changes because the rule did) are
returned for the report and not emitted: a rule fix must not message customers about moments
that are not new. They are also not marked fired, so a real later moment still fires.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from orchestrator.core.effects import ScenarioHit
from orchestrator.core.ports import World
from orchestrator.core.runtime import Ctx, Effects
from orchestrator.core.scenarios import cycle, standing
from orchestrator.core.scenarios.base import Signal
from orchestrator.core.state import CustomerState, Timer


@dataclass(frozen=True)
class Rederived:
    before: CustomerState
    state: CustomerState  # version + 1 when anything changed
    hits: tuple[ScenarioHit, ...]  # what the new rules say changed: reported, not emitted
    timers_set: tuple[Timer, ...]
    timers_cancelled: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """A stage, a tier or a detector timer differs. Risk and RFM figures move with time
        alone, so they are refreshed with a change, never a change by themselves."""
        old, new = self.before.profile, self.state.profile
        return (old.lifecycle, old.value_tier) != (new.lifecycle, new.value_tier) or bool(
            self.timers_set or self.timers_cancelled
        )


def rederive(state: CustomerState, now: datetime, world: World) -> Rederived:
    fx = Effects()
    ctx = Ctx(world=replace(world, journeys=()), now=now, event=None)
    last = state.profile.last_event_at
    as_of = now if last is None or last < now else last  # the stage as of now, as a live worker would judge it
    signal = Signal(ctx, fx, state.profile, None, at=as_of, as_of=as_of)
    new, hits = standing.on_event(state, signal)
    new = cycle.reschedule(new, world, fx)
    new = new.model_copy(update={"version": state.version + 1})
    return Rederived(state, new, tuple(hits), tuple(fx.timers_set.values()), tuple(sorted(fx.timers_cancelled)))
