"""Redeliveries and conflicting duplicates: an event id seen before, with the same or other content.

The state remembers the events it has processed by hash only (``seen_digests``, the newest
``SEEN_WINDOW``): each entry is 12 hex characters of the event id's hash, then 12 of its
content's. An event whose id hash is remembered was seen: with the same content it is a
redelivery, dropped quietly; with other content it is a conflicting duplicate, an InputError
(the DLQ says ``conflicting duplicate``). The content is the type, time, identity and data,
canonically serialized (key order and whitespace do not count; ``source`` does not either).

Ids remembered before content digests were kept (stored forms before 4) were upgraded to an
entry whose content half is ``LEGACY``: such an id counts as a redelivery whatever it carries.
Since form 5 event ids are not kept in clear (``seen`` holds only merge steps): a customer's
state no longer grows with the length of upstream ids, and an entry costs 24 characters.
"""

from __future__ import annotations

import hashlib
import json

from orchestrator.core.events import Event
from orchestrator.core.state import SEEN_WINDOW, CustomerState
from orchestrator.errors import InputError

_HALF = 12  # hex characters of each half of an entry (48 bits: collisions are not a concern)
LEGACY = "-" * _HALF  # the content half of an id remembered without its content
# What ``json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)``
# builds on every call (it makes a new encoder whenever an option is given), made once.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def id_hash(event_id: str) -> str:
    return hashlib.blake2b(event_id.encode(), digest_size=_HALF // 2).hexdigest()


def digest(event: Event) -> str:
    """The entry kept for ``event``: hash of its id, then hash of its content."""
    content = [event.type, event.time.isoformat(), event.identity, event.data]
    canonical = _CANONICAL.encode(content)
    return id_hash(event.id) + id_hash(canonical)


def remember(state: CustomerState, event: Event) -> tuple[str, ...]:
    return (*state.seen_digests, digest(event))[-SEEN_WINDOW:]


def seen(state: CustomerState, event_id: str) -> bool:
    """Whether an event with this id was processed (among the newest ``SEEN_WINDOW``)."""
    # One substring search in C: an entry starts right after a comma, its content half never does.
    return f",{id_hash(event_id)}" in "," + ",".join(state.seen_digests)


def check_duplicate(state: CustomerState, event: Event) -> None:
    """Raise InputError when ``event`` (whose id was seen) carries other content than the first time."""
    mine = digest(event)
    for entry in reversed(state.seen_digests):
        if entry[:_HALF] == mine[:_HALF]:
            if entry != mine and entry[_HALF:] != LEGACY:
                raise InputError(
                    f"conflicting duplicate: event id {event.id!r} was processed before with other content",
                    "conflict",
                )
            return
