"""WeCom staff ownership: who owns the customer's contact, and a handover that moves work along.

``contact.added`` {staff_id} makes that staff member the owner (``profile.owner``);
``staff.handover`` {to_staff, from_staff} (离职继承, or a reassignment) moves the contact to
another. WeCom 1v1 sends and tasks name the owner (``to.staff_id``). On a handover, a task
still waiting for its associate is issued again to the new owner (a new action, a fresh SLA);
a deferred send renders its recipient when it goes out, so it follows by itself.
"""

from __future__ import annotations

from orchestrator.core import machine
from orchestrator.core.event_data import ContactAdded, StaffHandover
from orchestrator.core.events import Event
from orchestrator.core.products import ProductCatalog
from orchestrator.core.runtime import Ctx, Effects, wait_timer_id
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.state import CustomerState, Profile

HANDOVER = "staff.handover"


def contact_added(profile: Profile, event: Event, _: ProductCatalog, __: ScenarioSettings) -> Profile:
    return profile.model_copy(update={"owner": ContactAdded.model_validate(event.data).staff_id})


def handed_over(profile: Profile, event: Event, _: ProductCatalog, __: ScenarioSettings) -> Profile:
    return profile.model_copy(update={"owner": StaffHandover.model_validate(event.data).to_staff})


def hand_over(state: CustomerState, event: Event, ctx: Ctx, fx: Effects) -> CustomerState:
    """After a handover, re-issue every task still waiting for an associate to the new owner."""
    if event.type != HANDOVER:
        return state
    for instance in list(state.instances.values()):
        if instance.task is None or instance.step is None:
            continue
        state = fx.cancel_timer(state, wait_timer_id(instance))
        state = machine.run(state, instance.model_copy(update={"task": None}), instance.step, ctx, fx)
    return state
