"""A customer's whole state: profile, journey instances, timers, dedupe window. Frozen."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

import msgspec
from msgspec import Meta, Struct, field

# Event ids remembered per customer to drop redeliveries; redelivery only re-reads
# records whose offsets were not committed, i.e. the most recent ones.
SEEN_WINDOW = 256
PURCHASE_WINDOW = 100
ORDER_WINDOW = 100  # orders kept for lifecycle, value tier and moving-house windows
SERVICE_WINDOW = 20
# The stored form's version. Every change to what CustomerState stores raises it by one and
# adds the step from the previous form to core/migrations.py (a state without the field is 0).
STATE_SCHEMA = 5

AwareDatetime = Annotated[datetime, Meta(tz=True)]  # a stored time always carries its offset


class _Value(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A frozen msgspec struct: the state is read, copied and written several times per input,
    and msgspec's decoder and encoder validate and write it 3–5× faster than pydantic did.

    Construction does not validate (the core builds these from validated events); decoding does
    (``migrations.load_state``: types, times with an offset, no unknown field). The JSON leaves
    out a field that holds its default (a new customer's state is ``schema_version`` and
    ``customer_id``), and reads it back as that default; ``view.plain`` writes every field.
    """

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """A copy with ``update``'s fields replaced, as the core's pydantic models are copied."""
        return msgspec.structs.replace(self, **update) if update else msgspec.structs.replace(self)


class Purchase(_Value, frozen=True):
    order_id: str
    time: AwareDatetime
    sku: str
    category: str
    qty: float
    days: float | None  # qty × days of use per unit; None: the catalog has no figure (rhythm decides)
    lead_days: int | None  # None: the detector's default
    product_name: str
    refunded: bool = False


class OrderRecord(_Value, frozen=True):
    """One paid order, whatever it held: the basis of lifecycle stages, RFM and windows."""

    order_id: str
    time: AwareDatetime
    amount: float = 0.0
    categories: tuple[str, ...] = ()
    refunded: bool = False


class ServiceRecord(_Value, frozen=True):
    time: AwareDatetime
    mileage: float | None = None
    brand: str | None = None
    model: str | None = None


class ScoreStat(_Value, frozen=True):
    """A survey score at one touchpoint: the last answer, the running mean, how many."""

    last: float
    mean: float
    count: int
    at: AwareDatetime


class Profile(_Value, frozen=True):
    name: str | None = None
    tz: str = "Asia/Shanghai"
    identity: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    consent: dict[str, bool] = field(default_factory=dict)
    consent_at: dict[str, AwareDatetime] = field(default_factory=dict)  # channel → time of its decision
    points: int = 0
    lifecycle: str = "registered"  # registered (no purchase), new, loyal, dormant, churned
    churn_risk: float = 0.0  # in [0, 1], as of the last evaluation
    value_tier: str | None = None  # None: not ranked yet (no order)
    rfm: dict[str, float] = field(default_factory=dict)  # r, f, m scores and their figures
    orders: int = 0
    spent: float = 0.0
    first_seen_at: AwareDatetime | None = None
    last_event_at: AwareDatetime | None = None
    last_order_at: AwareDatetime | None = None
    purchases: tuple[Purchase, ...] = ()
    refunded_orders: tuple[str, ...] = ()  # kept so a refund that arrives first still counts
    order_log: tuple[OrderRecord, ...] = ()  # in event-time order, at most ORDER_WINDOW
    services: tuple[ServiceRecord, ...] = ()
    experience: dict[str, dict[str, ScoreStat]] = field(default_factory=dict)  # touchpoint → metric → score
    last_hits: dict[str, AwareDatetime] = field(default_factory=dict)  # scenario → time of its latest hit
    # The staff account (导购) that owns the customer's WeCom contact: set by contact.added,
    # moved by staff.handover (离职继承); WeCom 1v1 sends and tasks go out in its name.
    owner: str | None = None

    def paid_orders(self) -> tuple[OrderRecord, ...]:
        return tuple(o for o in self.order_log if not o.refunded)


class Timer(_Value, frozen=True):
    id: str
    due_at: AwareDatetime
    data: dict[str, str] = field(default_factory=dict)


class SentRecord(_Value, frozen=True):
    at: AwareDatetime
    channel: str
    journey: str


class Instance(_Value, frozen=True):
    """One customer's run through one journey version."""

    id: str
    journey_id: str
    version: int
    step: str | None  # the step the instance waits at
    entered_at: AwareDatetime
    scenario: str | None = None
    scenario_data: dict[str, Any] = field(default_factory=dict)
    trigger_event: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    visits: dict[str, int] = field(default_factory=dict)  # step id → times run (loops, action ids)
    task: str | None = None  # the action id of the task the instance waits for
    deferred: bool = False  # parked at a send step by the contact policy; resumes by retrying it

    def visit(self, step_id: str) -> Instance:
        return self.model_copy(update={"visits": {**self.visits, step_id: self.visits.get(step_id, 0) + 1}})


class Attribution(_Value, frozen=True):
    """An ended instance whose goal window is still open: a later goal still counts for its variant."""

    journey_id: str
    version: int
    variant: str | None
    instance_id: str
    until: AwareDatetime


class CustomerState(_Value, frozen=True):
    # First, so that a stored form says what it is before anything else; required, so that a
    # form written before the field existed never passes for the current one. Older and newer
    # forms go through core.migrations.load_state, which checks it, never straight in.
    schema_version: int
    customer_id: str
    version: int = 0
    profile: Profile = field(default_factory=Profile)
    instances: dict[str, Instance] = field(default_factory=dict)
    last_entered: dict[str, AwareDatetime] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    seen: tuple[str, ...] = ()  # merge steps applied (core.merge, service.merging); event ids only until form 4
    seen_digests: tuple[str, ...] = ()  # the processed events, by id and content hash (core.dedupe); form 4
    fired: tuple[str, ...] = ()  # scenario occurrences that already fired
    segments: dict[str, bool] = field(default_factory=dict)  # journey id → segment condition last seen
    send_log: tuple[SentRecord, ...] = ()  # recent sends, for frequency caps
    attribution: tuple[Attribution, ...] = ()  # ended instances still inside their goal window
    # Set by an erasure (`orchestrator forget`): the state is a tombstone, and events that
    # happened before this moment (late uploads, redeliveries) are dropped, not folded again.
    forgotten_at: AwareDatetime | None = None
    # OneID (service/oneid.py): the ``<type>:<value>`` keys this customer owns in the identity
    # graph, and, once merged into another customer, that customer's id (the state is then a fence).
    identifiers: tuple[str, ...] = ()
    redirect_to: str | None = None

    @classmethod
    def new(cls, customer_id: str) -> CustomerState:
        return cls(schema_version=STATE_SCHEMA, customer_id=customer_id)

    def remember(self, event_id: str) -> tuple[str, ...]:
        return (*self.seen, event_id)[-SEEN_WINDOW:]

    def entered(self, journey_id: str) -> datetime | None:
        return self.last_entered.get(journey_id)
