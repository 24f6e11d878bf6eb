"""Replay after a detector fix: recompute derived figures of every stored customer, diff first.

Walks the stored states (the retention sweep's ``StatePages``), runs ``core.rederive`` on each
and counts what would change (stage and tier transitions, risk moves, timers set or
cancelled). With ``apply`` each change is written like any commit: new timer index entries
first, then the version-checked state (a customer whose state changed meanwhile keeps it;
its next input is judged by the new rules anyway), then the index entries of cancelled timers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.core import World
from orchestrator.core.rederive import Rederived, rederive
from orchestrator.service.ports import Commit, Settle, StateStore, TimerRef
from orchestrator.service.retention import StatePages


@dataclass
class ReplayReport:
    seen: int = 0
    changed: int = 0
    written: int = 0
    raced: int = 0
    transitions: Counter[str] = field(default_factory=Counter)  # "lifecycle loyal→dormant" → customers
    risk_moved: int = 0  # churn risk moved by 0.05 or more
    timers_set: int = 0
    timers_cancelled: int = 0

    def count(self, result: Rederived) -> None:
        old, new = result.before.profile, result.state.profile
        for name in ("lifecycle", "value_tier"):
            a, b = getattr(old, name), getattr(new, name)
            if a != b:
                self.transitions[f"{name} {a}→{b}"] += 1
        self.risk_moved += abs(new.churn_risk - old.churn_risk) >= 0.05
        self.timers_set += len(result.timers_set)
        self.timers_cancelled += len(result.timers_cancelled)


@dataclass(frozen=True)
class ReplayRequest:
    now: datetime
    apply: bool
    page_size: int = 500


async def replay(
    pages: StatePages, store: StateStore, world: World, partition_of: Callable[[str], int], request: ReplayRequest
) -> ReplayReport:
    report = ReplayReport()
    cursor = 0
    while True:
        cursor, states = await pages.page(cursor, request.page_size)
        report.seen += len(states)
        results = [r for r in (rederive(s, request.now, world) for s, _ in states) if r.changed]
        report.changed += len(results)
        for result in results:
            report.count(result)
        if request.apply and results:
            await _write(store, results, partition_of, report)
        if cursor == 0:
            return report


async def _write(
    store: StateStore, results: list[Rederived], partition_of: Callable[[str], int], report: ReplayReport
) -> None:
    def ref(r: Rederived, timer_id: str, due_ms: int) -> TimerRef:
        return TimerRef(partition_of(r.state.customer_id), r.state.customer_id, timer_id, due_ms)

    commits = [
        Commit(
            r.state.customer_id,
            r.before.version,
            r.state,
            {},
            tuple(ref(r, t.id, int(t.due_at.timestamp() * 1000)) for t in r.timers_set),
        )
        for r in results
    ]
    conflicts = set(await store.commit(commits))
    report.raced += len(conflicts)
    report.written += len(results) - len(conflicts)
    settles = [
        Settle(r.state.customer_id, (), tuple(ref(r, t, 0) for t in r.timers_cancelled))
        for r in results
        if r.timers_cancelled and r.state.customer_id not in conflicts
    ]
    if settles:
        await store.settle(settles)
