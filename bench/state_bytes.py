"""A stored state's bytes and (de)serialisation CPU: plain JSON (before) beside packed (after).

    .venv/bin/python -m bench.state_bytes [--rounds 5] [--fresh 400] [--mature 8] [--history 1000]

States: the median-sized fresh and mature customer of ``bench.core_speed``'s mixes (fresh: the
benchmark's backlog of new customers; mature: years of orders, chats and receipts).

Rows, each measured on both states, interleaved (every round runs every row, in an order
rotated by one each round), median over the rounds of CPU µs per call (``time.thread_time``:
the thread's own CPU, so a neighbour on a shared machine does not count):

* ``json``: what releases before packing store — ``encode_state`` / ``load_state`` of the JSON;
* ``packed``: what the store writes now — ``pack_state`` / ``load_state`` of its bytes
  (zstd level 1 with dictionary 1, ``core/packing.py``), and the packing alone;
* ``zlib``: the stdlib alternative that was weighed — raw deflate level 6 with the same 4 KB
  as preset dictionary (``zlib.compressobj(zdict=…)``), compress / decompress alone;
* ``pydantic model (before msgspec)``: the same JSON read and written by the pydantic models
  the state was until msgspec structs replaced them (``state_check.CHECK``: generated from the
  structs, field for field; written with ``exclude_unset``, as the store did).

The load average and the cores the rest of the machine kept busy are printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import zlib
from collections.abc import Callable
from typing import Any

from bench import core_speed
from bench.perf import procs
from bench.perf.stats import rotation
from orchestrator.core import CustomerState, packing
from orchestrator.core.migrations import dump_state, encode_state, load_state, pack_state
from orchestrator.core.packing_dict_1 import DICTIONARY
from orchestrator.core.state_check import CHECK

Call = Callable[[], object]


def _zlib_pack(text: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
    return packer.compress(text) + packer.flush()


def _zlib_unpack(raw: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15, DICTIONARY)
    return unpacker.decompress(raw) + unpacker.flush()


def rows(state: CustomerState) -> dict[str, tuple[int, Call, Call]]:
    """name → (stored bytes, write, read)."""
    text = dump_state(state).encode()
    packed = pack_state(state)
    deflated = _zlib_pack(text)
    checked = CHECK.model_validate_json(text)
    if load_state(packed) != state or _zlib_unpack(deflated) != text:
        raise SystemExit(f"state of {state.customer_id}: a round trip changed it")
    return {
        "json": (len(text), lambda: encode_state(state), lambda: load_state(text)),
        "packed": (len(packed), lambda: pack_state(state), lambda: load_state(packed)),
        "packing alone (zstd-1)": (len(packed), lambda: packing.pack(text), lambda: packing.unpack(packed)),
        "zlib-6 + same dictionary": (len(deflated), lambda: _zlib_pack(text), lambda: _zlib_unpack(deflated)),
        "pydantic model (before msgspec)": (
            len(text),
            lambda: _PYDANTIC.to_json(checked, exclude_unset=True),
            lambda: CHECK.model_validate_json(text),
        ),
    }


_PYDANTIC = CHECK.__pydantic_serializer__


def per_call_us(call: Call, seconds: float = 0.05) -> float:
    """CPU µs per call over at least ``seconds`` of CPU."""
    number, spent = 0, 0.0
    started = time.thread_time()
    while spent < seconds:
        for _ in range(20):
            call()
        number += 20
        spent = time.thread_time() - started
    return spent / number * 1e6


def measure(states: dict[str, CustomerState], rounds: int) -> dict[str, Any]:
    table = {kind: rows(state) for kind, state in states.items()}
    keys = [(kind, name, side) for kind in table for name in table[kind] for side in ("write", "read")]
    samples: dict[tuple[str, str, str], list[float]] = {key: [] for key in keys}
    labels = ["|".join(key) for key in keys]
    for round_ in range(rounds):
        for label in rotation(labels, round_):
            kind, name, side = label.split("|")
            _, write, read = table[kind][name]
            samples[(kind, name, side)].append(per_call_us(write if side == "write" else read))
    return {
        kind: {
            name: {
                "bytes": size,
                "write_us": round(statistics.median(samples[(kind, name, "write")]), 2),
                "read_us": round(statistics.median(samples[(kind, name, "read")]), 2),
                "write_us_range": _range(samples[(kind, name, "write")]),
                "read_us_range": _range(samples[(kind, name, "read")]),
            }
            for name, (size, _, _) in table[kind].items()
        }
        for kind in table
    }


def _range(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}"


def print_table(figures: dict[str, Any], load: dict[str, Any]) -> None:
    print(f"{'state':7} {'row':32} {'bytes':>7} {'write µs':>9} {'(min–max)':>13} {'read µs':>8} {'(min–max)':>13}")
    for kind, by_name in figures.items():
        for name, f in by_name.items():
            print(
                f"{kind:7} {name:32} {f['bytes']:>7,} {f['write_us']:>9.1f} {f['write_us_range']:>13}"
                f" {f['read_us']:>8.1f} {f['read_us_range']:>13}"
            )
        before, after = by_name["json"], by_name["packed"]
        print(
            f"{kind:7} {'packed / json':32} {after['bytes'] / before['bytes']:>7.2f} "
            f"{after['write_us'] / before['write_us']:>9.2f} {'':>13} {after['read_us'] / before['read_us']:>8.2f}"
        )
    print(
        f"load average {load['loadavg_start']} → {load['loadavg_end']}; the rest of the machine kept"
        f" {load['others_cores']:.2f} cores busy meanwhile"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fresh", type=int, default=400, help="customers in the fresh mix")
    parser.add_argument("--mature", type=int, default=8, help="mature customers")
    parser.add_argument("--history", type=int, default=1000, help="events in each mature customer's history")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    w = core_speed.world()
    fresh: dict[str, CustomerState] = {}
    core_speed._replay(w, core_speed.fresh_events(args.fresh), fresh)  # noqa: SLF001 - the core benchmark's replay
    states = {
        "fresh": core_speed.median_state(list(fresh.values())),
        "mature": core_speed.median_state(core_speed.mature_states(w, args.mature, args.history)),
    }
    load_start, busy_start, own_start = procs.loadavg(), procs.busy_cpu_seconds(), _own_cpu()
    started = time.monotonic()
    figures = measure(states, args.rounds)
    others = procs.busy_cpu_seconds() - busy_start - (_own_cpu() - own_start)
    wall = max(time.monotonic() - started, 1e-9)
    load = {"loadavg_start": load_start, "loadavg_end": procs.loadavg(), "others_cores": others / wall}
    print_table(figures, load)
    if args.json:
        print(json.dumps({"figures": figures, "load": load, "rounds": args.rounds}, indent=1))


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


if __name__ == "__main__":
    main()
