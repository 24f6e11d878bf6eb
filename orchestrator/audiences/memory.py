"""The audience index in memory, for ``simulate`` and tests: the same membership rules.

A dry run knows when the index is read (at an occurrence), so a commit only marks its
customer, and the marked customers' memberships are worked out when an occurrence is about
to be walked (at that moment: the same rules, judged no earlier than a worker judges them).
A customer committed many times between two occurrences costs one judgement.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from orchestrator.audiences.membership import Membership, changes, membership
from orchestrator.core import CustomerState, World


class MemoryAudiences:
    """journey → zone → customer ids, brought up to date by ``flush`` before each read."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.zones: set[str] = set()
        self._known: dict[str, Membership] = {}
        self._pending: dict[str, CustomerState] = {}

    def touch(self, state: CustomerState) -> bool:
        """A commit of ``state``; True when its time zone is new to the index."""
        self._pending[state.customer_id] = state
        tz = state.profile.tz
        if tz in self.zones:
            return False
        self.zones.add(tz)
        return True

    def flush(self, world: World, now: datetime) -> None:
        """Judge every customer committed since the last flush, at ``now``."""
        for cid, state in self._pending.items():
            if state.redirect_to is not None:  # merged into another customer: in no audience
                after = Membership(cid, state.profile.tz, frozenset())
            else:
                after = membership(state, world, now)
            added, removed = changes(self._known.get(cid), after)
            for entry in removed:
                self.members[entry.journey][entry.tz].discard(cid)
            for entry in added:
                self.members[entry.journey][entry.tz].add(cid)
            self._known[cid] = after
        self._pending.clear()

    def audience(self, journey: str, tz: str) -> list[str]:
        """The customers of one (journey, zone), in id order (the order a walk takes)."""
        return sorted(self.members[journey][tz])
