"""The pure core: deterministic, no I/O, no clock, no randomness.

``process(state, input, now, world)`` is the whole interface; everything else here is
the values it takes and returns.
"""

from orchestrator.core.effects import Action, JourneyRef, Outcome, ScenarioHit, StepFailure, action_id
from orchestrator.core.event_data import check_data
from orchestrator.core.events import Event, Input, TimerFired, customer_key, parse_event
from orchestrator.core.journey_spec import CHANNELS, JourneySpec
from orchestrator.core.ports import ConditionEvaluator, Renderer, World
from orchestrator.core.process import process
from orchestrator.core.products import Product, ProductCatalog
from orchestrator.core.state import CustomerState, Profile, Timer

__all__ = [
    "CHANNELS",
    "Action",
    "ConditionEvaluator",
    "CustomerState",
    "Event",
    "Input",
    "JourneyRef",
    "JourneySpec",
    "Outcome",
    "Product",
    "ProductCatalog",
    "Profile",
    "Renderer",
    "ScenarioHit",
    "StepFailure",
    "Timer",
    "TimerFired",
    "World",
    "action_id",
    "check_data",
    "customer_key",
    "parse_event",
    "process",
]
