"""Due timers handed to the partition owner's handler in-process: the crash guarantees.

A crash is injected at each step (service/timers.py): before the state commit that consumes
the timer, after it, before the index entry is removed, before the lease of what is left.
A fresh single pass (the restarted worker) then reads the index again. Whatever the crash
point, the timer fires exactly once (one action id; a copy produced again is the same
record), its index entry is gone only after the commit that consumed it, and nothing is
left pending. On a single Redis and on a Redis Cluster (the ``store_client`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
import pytest

from orchestrator.adapters.redis_ops import Client
from orchestrator.core import CustomerState, Input, Outcome, TimerFired, World
from orchestrator.service import handler as handler_module
from orchestrator.service import timers
from orchestrator.service.handler import InRecord
from orchestrator.service.ports import Commit, Loaded, Settle, StateStore, TimerRef
from orchestrator.service.single_pass import Batch
from tests.integration.single_pass_env import CHANNEL, NOW, Env, event, read_to_marker, single_pass_env

pytestmark = pytest.mark.integration
NOW_MS = int(NOW.timestamp() * 1000)
OWNED = frozenset({0})


class Crash(Exception):
    """Stands for the process dying at this point."""


@dataclass
class CrashingStore:
    inner: StateStore
    at: str

    async def load(self, customer_ids: Sequence[str]) -> dict[str, Loaded]:
        return await self.inner.load(customer_ids)

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        if self.at == "before_commit":
            raise Crash
        result = await self.inner.commit(commits)
        if self.at == "after_commit":
            raise Crash
        return result

    async def settle(self, settles: Sequence[Settle]) -> None:
        if self.at == "before_settle":
            raise Crash
        await self.inner.settle(settles)

    async def due_timers(self, partitions: Sequence[int], now_ms: int, limit: int) -> list[TimerRef]:
        return await self.inner.due_timers(partitions, now_ms, limit)

    async def lease_timers(self, timers: Sequence[TimerRef], until_ms: int) -> None:
        if self.at == "before_lease":
            raise Crash
        await self.inner.lease_timers(timers, until_ms)


@pytest.fixture
async def env(kafka_bootstrap: str, store_client: Client, prefix: str) -> AsyncIterator[Env]:
    async for made in single_pass_env(kafka_bootstrap, store_client, prefix):
        yield made


def _record(offset: int, value: bytes) -> InRecord:
    return InRecord(0, offset, b"M1", value, time.monotonic())


async def _a_due_timer(env: Env) -> None:
    """M1 registered 40 days ago and bought protein 27 days ago: its cycle timer is due now."""
    registered = event("e1", "customer.registered", 40, {"name": "王女士"}, member_id="M1", wecom_external_id="wm1")
    paid = event("e2", "order.paid", 27, {"order_id": "O1", "items": [{"sku": "PRO-900", "qty": 1}]}, member_id="M1")
    await env.single_pass().handler.handle([_record(0, registered), _record(1, paid)])
    assert [r.timer_id for r in await env.store.due_timers([0], NOW_MS, 10)] == ["cycle:protein"]


@pytest.mark.parametrize(
    ("crash", "copies"),
    [("before_commit", 1), ("after_commit", 1), ("before_settle", 2), ("before_lease", 1)],
)
async def test_a_crash_at_any_step_fires_the_timer_exactly_once(
    env: Env, kafka_bootstrap: str, crash: str, copies: int
) -> None:
    await _a_due_timer(env)
    with pytest.raises(Crash):
        await env.single_pass(CrashingStore(env.store, crash)).handle(Batch(owned=OWNED))
    due = [r.timer_id for r in await env.store.due_timers([0], NOW_MS, 10)]
    state = (await env.store.load(["M1"]))["M1"].state
    assert state is not None
    if crash == "before_commit":  # nothing committed: the entry is still due, not leased away
        assert due == ["cycle:protein"]
        assert "cycle:protein" in state.timers
    elif crash in ("after_commit", "before_settle"):  # committed: the entry stays until the removal
        assert due == ["cycle:protein"]
        assert "cycle:protein" not in state.timers
    else:
        assert due == []
    restarted = env.single_pass()
    for _ in range(3):  # the restarted worker's rounds: whatever is due is handed over again
        await restarted.handle(Batch(owned=OWNED))
    actions = await read_to_marker(env, kafka_bootstrap, env.topics.actions(CHANNEL))
    assert len(actions) == copies
    assert all(orjson.dumps(a) == orjson.dumps(actions[0]) for a in actions)  # a copy is the same record
    assert str(actions[0]["action_id"]).endswith(":remind:M1")
    later = NOW_MS + 10**9
    assert [r.timer_id for r in await env.store.due_timers([0], later, 10)] == []
    loaded = (await env.store.load(["M1"]))["M1"]
    assert loaded.outbox == {}
    assert loaded.state is not None
    assert loaded.state.timers == {}


async def test_timers_of_partitions_not_owned_are_left_to_their_owner(env: Env, kafka_bootstrap: str) -> None:
    await _a_due_timer(env)
    done = await env.single_pass().handle(Batch(owned=frozenset({1, 2, 3})))
    assert done.timers == []
    assert [r.timer_id for r in await env.store.due_timers([0], NOW_MS, 10)] == ["cycle:protein"]


async def test_a_timer_the_core_fails_on_is_dead_lettered_and_leased_not_retried_every_round(
    env: Env, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _a_due_timer(env)
    real = handler_module.process

    def failing(state: CustomerState, inp: Input, now: datetime, world: World) -> Outcome:
        if isinstance(inp, TimerFired):
            raise ZeroDivisionError("a bug this timer triggers")
        return real(state, inp, now, world)

    monkeypatch.setattr(handler_module, "process", failing)
    single = env.single_pass()
    done = await single.handle(Batch(owned=OWNED))
    assert [r.timer_id for r in done.timers] == ["cycle:protein"]
    assert done.processing.rejected == {"unprocessable": 1}
    [letter] = await read_to_marker(env, kafka_bootstrap, env.topics.dlq)
    assert letter["source"] == "timers[0]@-1"
    assert str(letter["reason"]).startswith("unprocessable input: ZeroDivisionError")
    assert orjson.loads(str(letter["payload"]))["timer_id"] == "cycle:protein"
    # Still in the state and the index, leased: not handed over again every round, but after the lease.
    state = (await env.store.load(["M1"]))["M1"].state
    assert state is not None
    assert "cycle:protein" in state.timers
    assert await env.store.due_timers([0], NOW_MS, 10) == []
    later = NOW_MS + int(timers.LEASE.total_seconds() * 1000) + 1000
    assert [r.timer_id for r in await env.store.due_timers([0], later, 10)] == ["cycle:protein"]
    assert (await single.handle(Batch(owned=OWNED))).timers == []
