"""CPU cost of the pure core per input, and of a state's (de)serialisation, on the shipped journeys.

    .venv/bin/python -m bench.core_speed [--rounds 5] [--fresh 400] [--mature 8]

* fresh mix: the benchmark's backlog (bench/perf/workload.py: registrations, orders, chat
  lines, receipts) of new customers, replayed in event-time order through ``process`` with
  due timers fired between events, as ``simulate`` does; CPU µs per input (events and timers).
* mature mix: customers with a history (``--history`` events each: orders every few days,
  chat lines, receipts, over years), then one more input of each kind (a chat line, a
  receipt, an order, each of its pending timers fired) processed against each mature
  state; CPU µs per input.
* codec: µs to read a stored state (``migrations.load_state``) and to write it
  (``model_dump_json``), and its size in bytes, for a fresh and a mature state (median-sized).

To compare with another commit, run this file against that commit's code:
``git worktree add --detach /tmp/before <commit>``, copy this file to /tmp/before/bench/, then
``cd /tmp/before && PYTHONPATH=/tmp/before <venv>/bin/python -m bench.core_speed`` (``code``
in the output says which tree ran).

Every figure is the median over ``--rounds`` rounds; CPU time is the thread's own
(``time.thread_time``), so other processes on a shared machine do not count.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orchestrator
from bench.perf import workload
from orchestrator.config.catalog import load_config
from orchestrator.core import CustomerState, Event, Input, TimerFired, World, process
from orchestrator.core.migrations import load_state
from orchestrator.service import codec

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
MATURE_REPEAT = 10  # each round processes every mature probe this many times


def _dump(state: CustomerState) -> bytes:
    return state.model_dump_json().encode()  # what the Redis store writes


def world() -> World:
    return load_config(REPO / "journeys", REPO / "templates").world()


def _replay(w: World, events: list[Event], states: dict[str, CustomerState]) -> tuple[float, int]:
    """Events in time order, due timers between them; returns (CPU seconds inside process, inputs)."""
    due: list[tuple[datetime, str, str]] = []
    spent, inputs = 0.0, 0

    def apply(cid: str, inp: Input, now: datetime) -> None:
        nonlocal spent, inputs
        state = states.get(cid) or CustomerState.new(cid)
        started = time.thread_time()
        outcome = process(state, inp, now, w)
        spent += time.thread_time() - started
        inputs += 1
        states[cid] = outcome.state
        for timer in outcome.timers_set:
            heapq.heappush(due, (timer.due_at, cid, timer.id))

    for event in events:
        while due and due[0][0] <= event.time:
            at, cid, timer_id = heapq.heappop(due)
            timer = states[cid].timers.get(timer_id)
            if timer is not None and timer.due_at == at:
                apply(cid, TimerFired(customer_id=cid, timer_id=timer_id, due_at=at), event.time)
        apply(codec.customer_key(event), event, event.time)
    return spent, inputs


def _decode(raws: list[bytes]) -> list[Event]:
    events = [codec.decode_event(raw)[1] for raw in raws]
    return sorted(events, key=lambda e: e.time)


def fresh_events(customers: int) -> list[Event]:
    backlog = workload.backlog(customers, customers * 4, NOW, seed=7)
    return _decode([raw for _, raw in backlog.records])


def history(index: int, events: int, rng: random.Random) -> list[bytes]:
    """Years of one customer's life: registration, an order every few days, chat lines, receipts."""
    cid = f"M{index:05d}"
    at = NOW - timedelta(days=events // 3 + 30)
    step = (NOW - timedelta(days=2) - at) / events
    raws = [workload.registered(cid, index, at)]
    for n in range(1, events):
        at += step
        roll = rng.random()
        if roll < 0.15:
            raws.append(workload.order(f"{cid}-o{n}", cid, at, rng))
        elif roll < 0.7:
            raws.append(workload.chat(f"{cid}-c{n}", cid, at, rng.random() < 0.05, rng))
        else:
            raws.append(workload.receipt(f"{cid}-r{n}", cid, at, rng))
    return raws


def probes(state: CustomerState, rng: random.Random) -> list[tuple[Input, datetime]]:
    """A chat line, a receipt and an order for a mature customer, and each of its timers fired when due."""
    cid, at = state.customer_id, NOW - timedelta(hours=1)
    raws = [
        workload.chat(f"{cid}-p1", cid, at, False, rng),
        workload.receipt(f"{cid}-p2", cid, at, rng),
        workload.order(f"{cid}-p3", cid, at, rng),
    ]
    events: list[tuple[Input, datetime]] = [(codec.decode_event(raw)[1], at) for raw in raws]
    timers: list[tuple[Input, datetime]] = [
        (TimerFired(customer_id=cid, timer_id=t.id, due_at=t.due_at), max(t.due_at, at)) for t in state.timers.values()
    ]
    return events + timers


def mature_states(w: World, customers: int, events: int) -> list[CustomerState]:
    rng = random.Random(11)
    raws = [raw for i in range(customers) for raw in history(i, events, rng)]
    states: dict[str, CustomerState] = {}
    _replay(w, _decode(raws), states)
    return [states[cid] for cid in sorted(states)]


def per_call_us(call: Callable[[], object], number: int) -> float:
    started = time.thread_time()
    for _ in range(number):
        call()
    return (time.thread_time() - started) / number * 1e6


def codec_figures(state: CustomerState, rounds: int) -> dict[str, float]:
    raw = _dump(state)
    return {
        "bytes": len(raw),
        "load_us": statistics.median(per_call_us(lambda: load_state(raw), 200) for _ in range(rounds)),
        "dump_us": statistics.median(per_call_us(lambda: _dump(state), 200) for _ in range(rounds)),
    }


def median_state(states: list[CustomerState]) -> CustomerState:
    return sorted(states, key=lambda s: len(_dump(s)))[len(states) // 2]


def run(rounds: int, fresh: int, mature: int, size: int) -> dict[str, object]:
    w = world()
    events = fresh_events(fresh)
    _replay(w, events[:200], {})  # one-time costs (the word segmenter's dictionary) before any timing
    fresh_us, fresh_states = [], {}
    for _ in range(rounds):
        fresh_states = {}
        spent, inputs = _replay(w, events, fresh_states)
        fresh_us.append(spent / inputs * 1e6)
    grown = mature_states(w, mature, size)
    rng = random.Random(5)
    checks = [(s, p, at) for s in grown for p, at in probes(s, rng)]
    mature_us = []
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(MATURE_REPEAT):
            for state, probe, at in checks:
                process(state, probe, at, w)
        mature_us.append((time.thread_time() - started) / len(checks) / MATURE_REPEAT * 1e6)
    return {
        "code": str(Path(orchestrator.__file__).parent),
        "fresh": {"inputs": inputs, "customers": fresh, "core_us": round(statistics.median(fresh_us), 1)},
        "mature": {
            "customers": mature,
            "history": size,
            "inputs": len(checks),
            "core_us": round(statistics.median(mature_us), 1),
        },
        "codec_fresh": _rounded(codec_figures(median_state(list(fresh_states.values())), rounds)),
        "codec_mature": _rounded(codec_figures(median_state(grown), rounds)),
    }


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fresh", type=int, default=400, help="customers in the fresh mix (4 events each)")
    parser.add_argument("--mature", type=int, default=8, help="mature customers")
    parser.add_argument("--history", type=int, default=1000, help="events in each mature customer's history")
    args = parser.parse_args()
    print(json.dumps(run(args.rounds, args.fresh, args.mature, args.history), indent=1))


if __name__ == "__main__":
    main()
