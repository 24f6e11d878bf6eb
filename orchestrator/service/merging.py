"""The merge protocol's steps, pure: what a customer does with a merge input (service/oneid.py).

A merge of customers A and B travels as inputs through the by-customer topic, each
produced from an outbox (as reliable as an action) and each idempotent:

1. **request** ``(to Y, partner X, held, keys)``: X found that it and Y should be one
   customer (X lost the claim of ``keys`` to Y). Y checks the per-customer limits on the
   union of its identifiers and X's ``held`` ones: refused → published with the reason,
   done (nobody retires). Allowed: the survivor is ``survivor(X, Y)`` (core/identity.py,
   the same answer on every worker). If Y survives, it sends the request back to X (with
   its own identifiers), so that the retiring side always acts on a request;
2. **retire** (at R, the side that does not survive, on a request): R's state is replaced
   by its fence ``{redirect_to: S}`` in R's ordinary version-checked commit, and in the
   same commit R's outbox takes an **absorb** input for S carrying R's whole state. From
   that commit on, whatever reaches R (records still on its partition, its due timers, a
   late merge step) is forwarded to S or dropped (timers: S re-indexed them);
3. **absorb** ``(to S, partner R, retired state, keys)``: S checks the limits again (a
   link may have landed since the request): identifiers of R beyond a limit are unlinked
   and published as refused. S moves R's identifiers to itself in the graph, **awaited
   before** its commit (indexes before state), runs ``core.merge.absorb`` (histories,
   instances, timers set again on S's partition, seen ids, send log) and commits.

Every step remembers its id in ``seen``; absorb also remembers the merge id
``merge:<R>@<version>``, so a redelivered step changes nothing, and a request from a
customer already absorbed is dropped, and a retired customer drops requests from its own
survivor (the bounce cannot loop).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.core import CustomerState
from orchestrator.core.identity import MEMBER_ID, Identifier, IdentityRules, Refusal, check_links, id_type, survivor
from orchestrator.core.merge import absorb, merge_id
from orchestrator.core.migrations import dump_state, load_state
from orchestrator.core.ports import World
from orchestrator.core.runtime import Ctx, Effects
from orchestrator.core.state import STATE_SCHEMA
from orchestrator.errors import InputError

MERGE_PREFIX = b'{"kind":"merge"'


class MergeInput(BaseModel):
    """One step of a merge, addressed (by record key) to one customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["merge"] = "merge"
    id: str
    step: Literal["request", "absorb"]
    to: str
    partner: str
    held: tuple[str, ...] = ()  # request: the partner's identifiers
    keys: tuple[str, ...] = ()  # identifiers whose claim started the merge
    retired: str | None = None  # absorb: the retired customer's state (stored form, JSON)

    def encode(self) -> bytes:
        return self.model_dump_json().encode()


def decode_merge(raw: bytes | None) -> MergeInput | None:
    """A merge step, or None when the record is something else (an event, a timer)."""
    if raw is None or not raw.startswith(MERGE_PREFIX):
        return None
    try:
        return MergeInput.model_validate_json(raw)
    except ValidationError as exc:
        raise InputError(f"invalid merge record: {exc.errors(include_url=False)[0]['msg']}", "schema") from exc


@dataclass
class Step:
    """What a merge step did to one customer: the state, records to send, graph moves."""

    state: CustomerState
    sends: list[tuple[str, MergeInput]] = field(default_factory=list)  # (outbox key, input for another customer)
    notes: list[dict[str, object]] = field(default_factory=list)  # for the identity topic
    moves: list[tuple[str, str, str]] = field(default_factory=list)  # (key, from, to)
    drops: list[tuple[str, str]] = field(default_factory=list)  # (key, owner)
    claims: list[str] = field(default_factory=list)  # keys the retired customer had not claimed yet
    fx: Effects = field(default_factory=Effects)
    merged: bool = False
    retired: bool = False


def parse_key(key: str) -> Identifier:
    kind, _, value = key.partition(":")
    return Identifier(kind, value)


def key_of(customer_id: str, rules: IdentityRules) -> str:
    """The graph key a customer id was made from (member ids are bare)."""
    return f"{MEMBER_ID}:{customer_id}" if id_type(customer_id, rules) == MEMBER_ID else customer_id


def absorbed(state: CustomerState, other: str) -> bool:
    """Whether ``other`` merged into this customer lately (its merge id is still in ``seen``).

    Not by identifiers: a customer id like ``phone:+86…`` may be the key of an identifier
    this customer holds without the two having merged. Later requests from a retired
    customer never come back here: its redirect drops requests whose partner is its survivor.
    """
    return any(s.startswith(f"merge:{other}@") for s in state.seen)


def refusal_note(cid: str, refusal: Refusal, partner: str | None, at: datetime) -> dict[str, object]:
    return {
        "what": "link_refused",
        "customer_id": cid,
        "identifier": refusal.identifier.key,
        "partner": partner,
        "reason": refusal.reason,
        "at": at.isoformat(),
    }


def run(state: CustomerState, step: MergeInput, now: datetime, world: World, claiming: tuple[str, ...] = ()) -> Step:
    """Apply one merge step to the customer it reached (``state.customer_id``); ``claiming``:
    keys this customer is claiming in this batch (a retiring customer hands them over)."""
    done = Step(state)
    if step.id in state.seen or step.partner == state.customer_id:
        return done
    done.state = state.model_copy(update={"seen": state.remember(step.id)})
    if step.step == "request":
        _request(done, step, now, world.identity, claiming)
    else:
        _absorb(done, step, now, world, claiming)
    return done


def _request(done: Step, step: MergeInput, now: datetime, rules: IdentityRules, claiming: tuple[str, ...]) -> None:
    state, me, partner = done.state, done.state.customer_id, step.partner
    if absorbed(state, partner):
        return
    refusals = check_links([parse_key(k) for k in state.identifiers], [parse_key(k) for k in step.held], rules)
    if refusals:
        done.notes += [refusal_note(me, r, partner, now) for r in refusals]
        return
    _, retired = survivor(me, partner, rules)
    if retired == partner:  # the partner retires: it acts on a request of ours
        back = MergeInput(
            id=f"{step.id}/back", step="request", to=partner, partner=me, held=state.identifiers, keys=step.keys
        )
        done.sends.append((f"merge:request:{me}>{partner}", back))
        return
    full = state.model_copy(update={"version": state.version + 1})
    handover = MergeInput(
        id=f"absorb:{merge_id(full)}",
        step="absorb",
        to=partner,
        partner=me,
        keys=tuple(dict.fromkeys((*state.identifiers, *claiming, *step.keys, key_of(me, rules)))),
        retired=dump_state(full),
    )
    done.sends.append((f"merge:absorb:{me}>{partner}", handover))
    done.state = fence(full, partner)
    done.retired = True
    done.notes.append({"what": "retired", "customer_id": me, "survivor": partner, "at": now.isoformat()})


def fence(state: CustomerState, survivor_id: str) -> CustomerState:
    """The retired customer's stored state: its redirect, its identifiers, nothing that could act."""
    return CustomerState(
        schema_version=STATE_SCHEMA,
        customer_id=state.customer_id,
        version=state.version,
        identifiers=state.identifiers,
        seen=state.seen,
        redirect_to=survivor_id,
    )


def _absorb(done: Step, step: MergeInput, now: datetime, world: World, claiming: tuple[str, ...]) -> None:
    if step.retired is None:
        raise InputError(f"merge record {step.id}: absorb without the retired state", "schema")
    retired = load_state(step.retired)
    me, rules = done.state.customer_id, world.identity
    if merge_id(retired) in done.state.seen:
        return
    theirs = [parse_key(k) for k in dict.fromkeys((*retired.identifiers, *step.keys))]
    # What this customer is claiming in the batch counts as held (an earlier absorb's keys, new links).
    held = [parse_key(k) for k in dict.fromkeys((*done.state.identifiers, *claiming))]
    refused = check_links(held, theirs, rules)
    over = {r.identifier for r in refused}
    done.notes += [refusal_note(me, r, retired.customer_id, now) for r in refused]
    done.drops += [(i.key, retired.customer_id) for i in sorted(over)]
    taken = [i.key for i in theirs if i not in over]
    # Every key moves if the retired customer owns it (compare-and-set); those it had not
    # recorded as claimed are then claimed, with this batch's claims.
    done.moves += [(key, retired.customer_id, me) for key in taken]
    done.claims += [key for key in taken if key not in retired.identifiers]
    ctx = Ctx(world=world, now=now, event=None)
    state = absorb(done.state, retired, ctx, done.fx)
    identifiers = tuple(dict.fromkeys((*state.identifiers, *(k for k in taken if k in retired.identifiers))))
    done.state = state.model_copy(update={"identifiers": identifiers})
    done.merged = True
    done.notes.append({"what": "merged", "customer_id": me, "retired": retired.customer_id, "at": now.isoformat()})


def note_bytes(note: dict[str, object]) -> bytes:
    return orjson.dumps(note)


def requests_for(state: CustomerState, lost: Sequence[tuple[str, str]], origin: str) -> list[tuple[str, MergeInput]]:
    """Merge requests to the owners of claims this customer lost, one per owner."""
    by_owner: dict[str, list[str]] = {}
    for key, owner in lost:
        by_owner.setdefault(owner, []).append(key)
    me = state.customer_id
    return [
        (
            f"merge:request:{me}>{owner}",
            MergeInput(
                id=f"merge:request:{me}>{owner}:{origin}",
                step="request",
                to=owner,
                partner=me,
                held=state.identifiers,
                keys=tuple(keys),
            ),
        )
        for owner, keys in by_owner.items()
    ]
