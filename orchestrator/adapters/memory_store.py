"""StateStore in memory, for ``simulate`` and unit tests; passes the same contract suite as Redis."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.core import CustomerState
from orchestrator.service.ports import Commit, Loaded, OutRecord, Settle, TimerRef


class MemoryStore:
    def __init__(self) -> None:
        self.states: dict[str, CustomerState] = {}
        self.outboxes: dict[str, dict[str, OutRecord]] = {}
        self.timers: dict[int, dict[tuple[str, str], int]] = {}

    async def load(self, customer_ids: Sequence[str]) -> dict[str, Loaded]:
        return {cid: Loaded(self.states.get(cid), dict(self.outboxes.get(cid, {}))) for cid in customer_ids}

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        conflicts = []
        for commit in commits:
            for ref in commit.timers_due:
                self.timers.setdefault(ref.partition, {})[(ref.customer_id, ref.timer_id)] = ref.due_ms
            current = self.states.get(commit.customer_id)
            if (current.version if current else 0) != commit.expected_version:
                conflicts.append(commit.customer_id)
                continue
            self.states[commit.customer_id] = commit.state
            self.outboxes.setdefault(commit.customer_id, {}).update(commit.outbox)
        return conflicts

    async def settle(self, settles: Sequence[Settle]) -> None:
        for settle in settles:
            outbox = self.outboxes.get(settle.customer_id, {})
            for key in settle.sent:
                outbox.pop(key, None)
            for ref in settle.timers_done:
                self.timers.get(ref.partition, {}).pop((ref.customer_id, ref.timer_id), None)

    async def due_timers(self, partitions: Sequence[int], now_ms: int, limit: int) -> list[TimerRef]:
        due = [
            TimerRef(p, cid, tid, ms)
            for p in partitions
            for (cid, tid), ms in self.timers.get(p, {}).items()
            if ms <= now_ms
        ]
        return sorted(due, key=lambda r: r.due_ms)[:limit]

    async def lease_timers(self, timers: Sequence[TimerRef], until_ms: int) -> None:
        for ref in timers:
            entries = self.timers.get(ref.partition, {})
            if entries.get((ref.customer_id, ref.timer_id)) == ref.due_ms:  # not re-armed or removed meanwhile
                entries[(ref.customer_id, ref.timer_id)] = until_ms
