"""Stage one: validate raw events and key them by canonical customer id (the OneID routing).

For a batch:

1. decode and validate each record; normalise its identifiers by the rules
   (``journeys/identity.yaml``). An event with no usable identifier goes to the DLQ naming
   the field (a malformed phone) or saying "no identifier of a known type" (or "only
   blocked identifiers"). A malformed identifier beside a usable one does not lose the
   event: it routes by the usable ones, and the bad one is refused at linking (published
   with its reason);
2. **one** pipelined ``graph.resolve`` of every identifier of the batch;
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
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.core import check_data, parse_event
from orchestrator.core.identity import MEMBER_ID, Identifier, IdentityRules, canonical_id, usable_identifiers
from orchestrator.errors import InputError
from orchestrator.service import codec
from orchestrator.service.handler import InRecord, reject
from orchestrator.service.ports import IdentityGraph, OutRecord, Publisher
from orchestrator.service.report import BatchReport
from orchestrator.service.topics import Topics


async def route(
    records: Sequence[InRecord],
    publisher: Publisher,
    topics: Topics,
    graph: IdentityGraph | None = None,
    rules: IdentityRules | None = None,
) -> BatchReport:
    """Without a graph every event goes to the canonical id of its first identifier."""
    rules = rules or IdentityRules()
    report = BatchReport()
    out: list[OutRecord] = []
    routed: list[tuple[InRecord, list[Identifier]]] = []
    for record in records:
        try:
            event = parse_event(codec.decode_object(record.value))
            check_data(event)
            routed.append((record, routable(event.identity, rules)))
        except InputError as exc:
            out.append(reject(record, exc, topics.events, topics, report))
    keys = list(dict.fromkeys(i.key for _, found in routed for i in found))
    owners = await graph.resolve(keys) if graph is not None and keys else {}
    for record, found in routed:
        cid = owner_of(found, owners)
        for ident in found:  # what the process stage will claim: later events of the batch follow it
            owners.setdefault(ident.key, cid)
        out.append(OutRecord(topics.by_customer, cid, record.value or b""))
    await publisher.publish(out)
    return report


def routable(identity: dict[str, str], rules: IdentityRules) -> list[Identifier]:
    """The identifiers that route an event, highest priority first; InputError when there are none."""
    found, errors = usable_identifiers(identity, rules)
    usable = [i for i in found if i.value not in _blocked(i.kind, rules)]
    if not usable and errors:  # a malformed identifier beside a usable one is refused at linking, not here
        raise InputError(f"invalid event: {errors[0]}", "identity")
    if not usable:
        what = "only blocked identifiers" if found else "no identifier of a known type"
        raise InputError(f"invalid event: identity: {what} ({', '.join(sorted(rules.types))})", "identity")
    return usable


def owner_of(found: Sequence[Identifier], owners: dict[str, str]) -> str:
    """The customer an event with these identifiers (highest priority first) belongs to."""
    first = found[0]
    if first.kind == MEMBER_ID and first.key not in owners:
        return canonical_id(first)
    for ident in found:
        if ident.key in owners:
            return owners[ident.key]
    return canonical_id(first)


def _blocked(kind: str, rules: IdentityRules) -> tuple[str, ...]:
    rule = rules.rule(kind)
    return rule.blocked if rule else ()
