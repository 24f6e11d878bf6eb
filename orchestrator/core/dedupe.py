"""Redeliveries and conflicting duplicates: an event id seen before, with the same or other content.

Beside each remembered event id the state keeps a short digest (``seen_digests``: 12 hex
characters of the id's hash, then 12 of the content's), so that an event whose id was seen
but whose content differs is told apart from a redelivery: a redelivery is dropped quietly,
a conflicting duplicate is an InputError (the DLQ says ``conflicting duplicate``). The
content is the type, time, identity and data, canonically serialized (key order and
whitespace do not count; ``source`` does not either). An id remembered without a digest (a
state stored before digests were kept) counts as a redelivery.
"""

from __future__ import annotations

import hashlib
import json

from orchestrator.core.events import Event
from orchestrator.core.state import SEEN_WINDOW, CustomerState
from orchestrator.errors import InputError

_HALF = 12  # hex characters of each half of an entry (48 bits: collisions are not a concern)


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=_HALF // 2).hexdigest()


def digest(event: Event) -> str:
    """The entry kept for ``event``: hash of its id, then hash of its content."""
    content = [event.type, event.time.isoformat(), event.identity, event.data]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return _hash(event.id) + _hash(canonical)


def remember(state: CustomerState, event: Event) -> tuple[str, ...]:
    return (*state.seen_digests, digest(event))[-SEEN_WINDOW:]


def check_duplicate(state: CustomerState, event: Event) -> None:
    """Raise InputError when ``event`` (whose id was seen) carries other content than the first time."""
    mine = digest(event)
    for entry in reversed(state.seen_digests):
        if entry[:_HALF] == mine[:_HALF]:
            if entry != mine:
                raise InputError(
                    f"conflicting duplicate: event id {event.id!r} was processed before with other content",
                    "conflict",
                )
            return
