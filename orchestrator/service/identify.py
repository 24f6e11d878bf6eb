"""Stage one: validate raw events and key them by canonical customer id (the OneID routing).

For a batch:

1. decode and validate each record; normalise its identifiers by the rules
   (``journeys/identity.yaml``). An event with no usable identifier goes to the DLQ naming
   the field (a malformed phone) or saying "no identifier of a known type" (or "only
   blocked identifiers"). A malformed identifier beside a usable one does not lose the
   event: it routes by the usable ones, and the bad one is refused at linking (published
   with its reason);
2. **one** pipelined ``graph.resolve`` of the identifiers that decide (``needed``: an event
   whose first identifier is a member id is decided by it alone);
3. route each event (``owner_of``): to the owner of its highest-priority identifier that
   has one, except that a new member id always gets its own customer (member ids are the
   canonical ids of member customers); nothing owned → ``canonical_id`` of its first
   identifier (a new customer). Identifiers still unowned are taken as the routed
   customer's for the rest of the batch (the process stage is about to claim them), so
   that a new customer's events in one batch do not make strangers of each other;
4. forward the record byte for byte to the by-customer topic under that key, and the DLQ
   records; await the acks; the caller acks the batch.

The stage only reads the graph. Claiming identifiers, refusing links and merging two
customers happen where the customer's state is, at the process stage (service/oneid.py).

``sort`` is the same routing for the single pass (service/single_pass.py): a record whose
key already is its customer's canonical id, on the partition this worker processes that
customer on, stays here (with its decoded event, so it is not decoded twice); only the
others are re-keyed. The check is step 2's read: no extra round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from orchestrator.core import Event, check_data, parse_event
from orchestrator.core.identity import MEMBER_ID, Identifier, IdentityRules, canonical_id, usable_identifiers
from orchestrator.errors import InputError
from orchestrator.service import codec
from orchestrator.service.handler import InRecord, reject
from orchestrator.service.ports import IdentityGraph, OutRecord, Publisher
from orchestrator.service.report import BatchReport
from orchestrator.service.topics import Topics


@dataclass
class Sorted:
    """A batch of ``xo.events`` records after routing."""

    here: list[InRecord] = field(default_factory=list)  # canonical key, home partition: decoded events
    out: list[OutRecord] = field(default_factory=list)  # re-keyed records, then dead letters
    report: BatchReport = field(default_factory=BatchReport)


async def route(
    records: Sequence[InRecord],
    publisher: Publisher,
    topics: Topics,
    graph: IdentityGraph | None = None,
    rules: IdentityRules | None = None,
) -> BatchReport:
    """Without a graph every event goes to the canonical id of its first identifier."""
    routed = await sort(records, topics, graph, rules)
    await publisher.publish(routed.out)
    return routed.report


async def sort(
    records: Sequence[InRecord],
    topics: Topics,
    graph: IdentityGraph | None = None,
    rules: IdentityRules | None = None,
    here: Callable[[InRecord, str], bool] | None = None,
) -> Sorted:
    """Steps 1-3 for a batch; ``here(record, cid)``: whether this worker processes ``cid``'s
    records of that record's partition (never, when None: every record is re-keyed)."""
    rules = rules or IdentityRules()
    done = Sorted()
    dlq: list[OutRecord] = []
    routed: list[tuple[InRecord, Event, list[Identifier]]] = []
    for record in records:
        try:
            event = parse_event(codec.decode_object(record.value))
            check_data(event)
            routed.append((record, event, routable(event.identity, rules)))
        except InputError as exc:
            dlq.append(reject(record, exc, topics.events, topics, done.report))
    keys = list(dict.fromkeys(key for _, _, found in routed for key in needed(found)))
    owners = await graph.resolve(keys) if graph is not None and keys else {}
    for record, event, found in routed:
        cid = owner_of(found, owners)
        for ident in found:  # what the process stage will claim: later events of the batch follow it
            owners.setdefault(ident.key, cid)
        if here is not None and record.key == cid.encode() and here(record, cid):
            done.here.append(_decoded(record, event, topics.events))
        else:
            done.out.append(OutRecord(topics.by_customer, cid, record.value or b""))
    done.out += dlq
    return done


def routable(identity: dict[str, str], rules: IdentityRules) -> list[Identifier]:
    """The identifiers that route an event, highest priority first; InputError when there are none.

    Remembered per identity (a customer's events carry the same identifiers batch after batch;
    at most ``REMEMBERED_ROUTES``, all forgotten when the rules change): a copy of the list, or
    a new InputError with the same reason."""
    if _ROUTES.rules is not rules:
        _ROUTES.memo.clear()
        _ROUTES.rules = rules
    key = tuple(identity.items())
    try:
        known = _ROUTES.memo.get(key)
    except TypeError:  # a value that is not hashable (not from a validated event): not remembered
        return _routable(identity, rules)
    if known is None:
        try:
            known = tuple(_routable(identity, rules))
        except InputError as exc:
            known = _Refused(exc.reason, exc.code)
        if len(_ROUTES.memo) >= REMEMBERED_ROUTES:
            _ROUTES.memo.clear()
        _ROUTES.memo[key] = known
    if isinstance(known, _Refused):
        raise InputError(known.reason, known.code)
    return list(known)


def _routable(identity: dict[str, str], rules: IdentityRules) -> list[Identifier]:
    found, errors = usable_identifiers(identity, rules)
    usable = [i for i in found if i.value not in _blocked(i.kind, rules)]
    if not usable and errors:  # a malformed identifier beside a usable one is refused at linking, not here
        raise InputError(f"invalid event: {errors[0]}", "identity")
    if not usable:
        what = "only blocked identifiers" if found else "no identifier of a known type"
        raise InputError(f"invalid event: identity: {what} ({', '.join(sorted(rules.types))})", "identity")
    return usable


@dataclass(frozen=True)
class _Refused:
    reason: str
    code: str


@dataclass
class _Remembered:
    rules: IdentityRules | None = None
    memo: dict[tuple[tuple[str, str], ...], tuple[Identifier, ...] | _Refused] = field(default_factory=dict)


REMEMBERED_ROUTES = 50_000  # identities whose routing a process keeps (a few MB)
_ROUTES = _Remembered()


def needed(found: Sequence[Identifier]) -> list[str]:
    """The graph keys ``owner_of`` reads for an event: only its member id when that comes first
    (owned or not, it decides), else every identifier (the first owned one decides)."""
    return [found[0].key] if found[0].kind == MEMBER_ID else [i.key for i in found]


def owner_of(found: Sequence[Identifier], owners: dict[str, str]) -> str:
    """The customer an event with these identifiers (highest priority first) belongs to."""
    first = found[0]
    if first.kind == MEMBER_ID and first.key not in owners:
        return canonical_id(first)
    for ident in found:
        if ident.key in owners:
            return owners[ident.key]
    return canonical_id(first)


def _decoded(record: InRecord, event: Event, source: str) -> InRecord:
    return InRecord(record.partition, record.offset, record.key, record.value, record.received, event, source)


def _blocked(kind: str, rules: IdentityRules) -> tuple[str, ...]:
    rule = rules.rule(kind)
    return rule.blocked if rule else ()
