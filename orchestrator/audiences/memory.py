"""The audience index in memory, for ``simulate`` and tests: the same membership rules.

A dry run knows when the index is read (when an occurrence is walked), so a commit only
marks its customer, and a journey's marked customers are judged just before its
occurrence is walked (at that moment: the same rules, judged no earlier than a worker
judges them), for every journey still waiting for them. A customer committed many times
between two occurrences costs one judgement.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from orchestrator.audiences.membership import Membership, changes, membership
from orchestrator.core import CustomerState, World


class MemoryAudiences:
    """journey → zone → customer ids, for the given journeys; ``flush`` brings one up to date."""

    def __init__(self, journeys: Iterable[str]) -> None:
        self.members: dict[str, dict[str, set[str]]] = {j: {} for j in journeys}
        self.zones: set[str] = set()
        self._known: dict[str, dict[str, Membership]] = {j: {} for j in self.members}
        self._pending: dict[str, dict[str, CustomerState]] = {j: {} for j in self.members}

    def touch(self, state: CustomerState) -> bool:
        """A commit of ``state``; True when its time zone is new to the index."""
        for pending in self._pending.values():
            pending[state.customer_id] = state
        tz = state.profile.tz
        if tz in self.zones:
            return False
        self.zones.add(tz)
        return True

    def flush(self, journey: str, world: World, now: datetime) -> None:
        """Judge, at ``now``, the customers committed since the journey's last flush. Each is judged
        for every journey still waiting for them at once (the profile view is built once)."""
        for cid, state in list(self._pending[journey].items()):
            waiting = [j for j, pending in self._pending.items() if pending.get(cid) is state]
            if state.redirect_to is not None:  # merged into another customer: in no audience
                judged = Membership(cid, state.profile.tz, frozenset())
            else:
                judged = membership(state, world, now, only=None if len(waiting) > 1 else journey)
            for j in waiting:
                self._apply(j, cid, Membership(cid, judged.tz, judged.journeys & {j}))
                del self._pending[j][cid]

    def _apply(self, journey: str, cid: str, after: Membership) -> None:
        members, known = self.members[journey], self._known[journey]
        before = known.get(cid)
        if before == after:
            return  # judged as last time (most are): the index stays as it is
        added, removed = changes(before, after)
        for entry in removed:
            members[entry.tz].discard(cid)
        for entry in added:
            members.setdefault(entry.tz, set()).add(cid)
        known[cid] = after

    def audience(self, journey: str, tz: str) -> list[str]:
        """The customers of one (journey, zone), in id order (the order a walk takes)."""
        return sorted(self.members[journey].get(tz, ()))
