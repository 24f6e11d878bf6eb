"""The stored form of CustomerState, and the steps that upgrade older forms.

Every state a worker writes carries ``schema_version`` (``state.STATE_SCHEMA``). Reading:

* the current form is parsed directly (the hot path: one msgspec decode, which validates it);
* an older form is upgraded one version at a time by the pure functions in ``STEPS``
  (``STEPS[n]`` turns form ``n`` into form ``n + 1``), then parsed;
* a newer form than this release knows raises ``StateTooNew`` and is never written back:
  during a rolling deploy an old worker leaves a new worker's state alone (the shell retries
  until a worker that knows the form owns the partition);
* anything else that does not parse raises ``StateUnreadable``, naming the customer if known.

What is read may be packed (``packing``: zstd with a fixed dictionary, behind a header byte):
it is unpacked first, whatever its form; ``pack_state`` is what a store writes.

Adding a stored field or changing one: raise ``STATE_SCHEMA``, add the step here, and add a
fixture of the previous form under ``tests/fixtures/states/`` with a test that loads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec

from orchestrator.core import dedupe, packing, state_check
from orchestrator.core.state import SEEN_WINDOW, STATE_SCHEMA, CustomerState

Doc = dict[str, Any]


class StoredStateError(ValueError):
    """A stored state this release cannot use; ``customer_id`` when the form names one."""

    def __init__(self, message: str, customer_id: str | None = None) -> None:
        where = f"state of {customer_id}" if customer_id else "stored state"
        super().__init__(f"{where}: {message}")
        self.customer_id = customer_id


class StateTooNew(StoredStateError):
    """Written by a newer release: refuse it, and write nothing over it."""


class StateUnreadable(StoredStateError):
    """Not JSON, not an object, or not a valid state of the form it claims to be."""


def _v0_to_v1(doc: Doc) -> Doc:
    """Release 0.1.0 stored no schema_version; form 1 adds ``forgotten_at`` (erasure tombstones)."""
    return {"schema_version": 1, **doc, "forgotten_at": None}


def _v1_to_v2_oneid(doc: Doc) -> Doc:
    """OneID: form 2 adds ``identifiers`` (claimed graph keys), ``redirect_to`` (a merge's fence)
    and ``profile.consent_at`` (when each channel's consent was decided, for merges).

    A form-1 state claimed nothing in the graph and was never merged: its next event claims
    its identifiers. Its consent decisions have no time: a merge treats them as the earliest.
    """
    return {**doc, "schema_version": 2, "identifiers": [], "redirect_to": None}


def _v2_to_v3_owner(doc: Doc) -> Doc:
    """Form 3 adds ``profile.owner``: the staff account that owns the WeCom contact (none known yet)."""
    profile = doc.get("profile")
    upgraded = {**doc, "schema_version": 3}
    if isinstance(profile, dict):
        upgraded["profile"] = {**profile, "owner": None}
    return upgraded


def _v3_to_v4_digests(doc: Doc) -> Doc:
    """Form 4 keeps a digest beside each seen event id (``seen_digests``) to tell a conflicting
    duplicate from a redelivery; ids seen before have none and count as redeliveries."""
    return {**doc, "schema_version": 4, "seen_digests": []}


def _v4_to_v5_hashed_ids(doc: Doc) -> Doc:
    """Form 5 keeps processed events by hash only: the event ids in ``seen`` become entries of
    ``seen_digests`` (an id that has no digest yet gets one whose content half is
    ``dedupe.LEGACY``: a redelivery whatever it carries, as before), older first; ``seen``
    keeps the merge steps (``merge:…``, ``absorb:…``: no event's id). Anything that is not a list of strings
    is left for the parser to report."""
    seen, digests = doc.get("seen", []), doc.get("seen_digests", [])
    upgraded = {**doc, "schema_version": 5}
    if not _strings(seen) or not _strings(digests):
        return upgraded
    known = {entry[: len(dedupe.LEGACY)] for entry in digests}
    hashed = [dedupe.id_hash(i) for i in seen if not i.startswith(_MERGE_STEPS)]
    legacy = [h + dedupe.LEGACY for h in dict.fromkeys(hashed) if h not in known]
    upgraded["seen_digests"] = [*legacy, *digests][-SEEN_WINDOW:]
    upgraded["seen"] = [i for i in seen if i.startswith(_MERGE_STEPS)]
    return upgraded


_MERGE_STEPS = ("merge:", "absorb:")  # the ids service.merging and core.merge remember


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


STEPS: dict[int, Callable[[Doc], Doc]] = {
    0: _v0_to_v1,
    1: _v1_to_v2_oneid,
    2: _v2_to_v3_owner,
    3: _v3_to_v4_digests,
    4: _v4_to_v5_hashed_ids,
}


def encode_state(state: CustomerState) -> bytes:
    """The stored form of ``state``: its JSON without the fields that hold their default (they
    read back as it). A new customer's state is ``{"schema_version":…,"customer_id":…,"profile":{}}``.
    Releases before msgspec wrote the fields ever assigned: each reads the other's form. So a
    stored field's default never changes without a step here, and a step that needs a field's
    value reads an absent one as its default."""
    return _ENCODER.encode(state)


def dump_state(state: CustomerState) -> str:
    """``encode_state`` as text."""
    return _ENCODER.encode(state).decode()


def pack_state(state: CustomerState) -> bytes:
    """What a store writes: the stored form (``encode_state``), packed (``packing.pack``)."""
    return packing.pack(_ENCODER.encode(state))


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(CustomerState)


def load_state(raw: bytes | str, customer_id: str | None = None) -> CustomerState:
    """Parse a stored state of any known form, packed or not, into today's CustomerState.

    ``customer_id``: whose state it is, when the reader knows (errors name it even when the
    bytes cannot say)."""
    if isinstance(raw, bytes) and packing.is_packed(raw):
        raw = _unpacked(raw, customer_id)
    try:
        state = _DECODER.decode(raw)
    except msgspec.DecodeError as exc:  # not JSON, or not today's form (ValidationError is one)
        first_error: msgspec.DecodeError | None = exc
    else:
        if state.schema_version == STATE_SCHEMA:
            return state
        first_error = None
    doc = _document(raw, customer_id)
    named = doc.get("customer_id") if isinstance(doc.get("customer_id"), str) else None
    cid = customer_id or named
    form = doc.get("schema_version", 0)
    if not isinstance(form, int) or isinstance(form, bool) or form < 0:
        raise StateUnreadable(f"schema_version {form!r} is not a version number", cid)
    if form > STATE_SCHEMA:
        raise StateTooNew(f"written in form {form}; this release reads up to {STATE_SCHEMA}", cid)
    if form == STATE_SCHEMA:
        raise StateUnreadable(_problems(doc, first_error), cid) from first_error
    upgraded = upgrade(doc, form)
    try:
        return _current(_DECODER.decode(json.dumps(upgraded)))
    except msgspec.DecodeError as exc:
        raise StateUnreadable(f"form {form} upgraded to {STATE_SCHEMA}: {_problems(upgraded, exc)}", cid) from exc


def _current(state: CustomerState) -> CustomerState:
    if state.schema_version != STATE_SCHEMA:  # a step that forgot to set it: a bug here, never the data's
        raise msgspec.ValidationError(f"schema_version {state.schema_version} after the upgrade, not {STATE_SCHEMA}")
    return state


def upgrade(doc: Doc, form: int) -> Doc:
    """Apply the steps from ``form`` to the current form, in order."""
    for step in range(form, STATE_SCHEMA):
        doc = STEPS[step](doc)
    return doc


def _unpacked(raw: bytes, customer_id: str | None) -> bytes:
    try:
        return packing.unpack(raw)
    except packing.UnknownCodec as exc:  # a newer release packed it: leave it to one of those
        raise StateTooNew(str(exc), customer_id) from exc
    except packing.PackingError as exc:
        raise StateUnreadable(f"packed bytes do not unpack ({exc})", customer_id) from exc


def _document(raw: bytes | str, customer_id: str | None) -> Doc:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise StateUnreadable(f"not JSON ({type(exc).__name__}: {exc})", customer_id) from exc
    if not isinstance(doc, dict):
        raise StateUnreadable(f"a JSON {type(doc).__name__}, not an object", customer_id)
    return doc


def _problems(doc: Doc, error: Exception | None) -> str:
    """Every problem with its place (``state_check``); the decoder's own message if that finds none."""
    return state_check.problems(doc) or str(error)
