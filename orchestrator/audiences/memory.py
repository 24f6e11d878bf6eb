"""The audience index in memory, for ``simulate`` and tests: the same membership rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from orchestrator.audiences.membership import Entry, Membership, changes, membership
from orchestrator.core import CustomerState, World


class MemoryAudiences:
    """journey → zone → customer ids; a customer's membership is recomputed only when what it
    depends on (profile, segments, entries, zone) is another object than last time."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._known: dict[str, tuple[Membership, tuple[object, ...]]] = {}

    def track(self, state: CustomerState, world: World, now: datetime) -> list[Entry]:
        """Bring ``state``'s entries up to date; return the entries added (new zones show there)."""
        key = (state.profile, state.segments, state.last_entered, state.redirect_to)
        known = self._known.get(state.customer_id)
        if known is not None and all(a is b for a, b in zip(known[1], key, strict=True)):
            return []
        if state.redirect_to is not None:  # merged into another customer: in no audience
            after = Membership(state.customer_id, state.profile.tz, frozenset())
        else:
            after = membership(state, world, now)
        added, removed = changes(known[0] if known else None, after)
        for entry in removed:
            self.members[entry.journey][entry.tz].discard(entry.customer_id)
        for entry in added:
            self.members[entry.journey][entry.tz].add(entry.customer_id)
        self._known[state.customer_id] = (after, key)
        return sorted(added)

    def audience(self, journey: str, tz: str) -> list[str]:
        """The customers of one (journey, zone), in id order (the order a walk takes)."""
        return sorted(self.members[journey][tz])
