"""``simulate`` over the public CDNOW history with the shipped journeys: seconds and peak RSS.

The 49k orders of CDNOW's 23,570 customers up to 1997-09-30 (bench/predictive/data.py), as
``order.paid`` events, through ``service.simulate`` with ``journeys/`` and ``templates/`` as
``orchestrator simulate`` loads them. Prints one line: events, customers, actions, inputs
processed (events and fired timers), seconds (wall and CPU), peak RSS, and the machine's load
average before and after. ``--limit N`` replays the first N orders only; ``--profile FILE``
writes a cProfile of the run.
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import time
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

from bench.predictive.data import as_events, read_purchases
from orchestrator.config.catalog import load_config
from orchestrator.service.simulate import simulate

UNTIL = date(1997, 9, 30)
ROOT = Path(__file__).resolve().parents[2]


def lines(limit: int | None) -> list[bytes]:
    purchases = [p for p in read_purchases() if p.day <= UNTIL]
    events = as_events(purchases[:limit] if limit else purchases)
    return [orjson.dumps(e.model_dump(mode="json", exclude_none=True)) for e in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="replay only the first N orders")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    args = parser.parse_args()
    records = lines(args.limit)
    years = set(range(1997, 1999))
    world = load_config(ROOT / "journeys", ROOT / "templates", calendar_years=years).world()
    until = datetime(UNTIL.year, UNTIL.month, UNTIL.day, 23, 59, tzinfo=UTC)
    profiler = cProfile.Profile() if args.profile else None
    load_before = _load()
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    sim = simulate(world, records, until)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"simulate CDNOW: {len(records)} events, {len(sim.states)} customers, {len(sim.actions)} actions, "
        f"{sim.inputs} inputs processed, {seconds:.1f} s ({cpu:.1f} s CPU), peak RSS {peak_mb:.0f} MB, "
        f"load {load_before} -> {_load()} (1-min average, the machine's other work)"
    )


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
