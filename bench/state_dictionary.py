"""Train a candidate zstd dictionary for packed states (``orchestrator/core/packing.py``).

    .venv/bin/python -m bench.state_dictionary --out CANDIDATE.py [--size 4096] [--number 2]

A dictionary in use never changes: a packed state names its dictionary by its header byte,
and ``tests/core/test_packing.py`` pins each dictionary's digest. A better dictionary is a new
codec (the next header byte, a new module beside ``packing_dict_1.py``), and every release
keeps reading the old ones. This script writes a candidate module; nothing reads it until
``packing.py`` is taught its header byte.

The samples are stored forms (``migrations.dump_state``) of:
* every state of ``tests/fixtures/states/`` (the example events, OneID merges, older forms
  upgraded), the shipped journeys as the examples exercise them;
* fresh customers of ``bench.core_speed``'s mix (seed 7, the core benchmark's, not the one
  ``bench.bench`` uses) and its mature customers (years of orders, chats and receipts).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import textwrap
from pathlib import Path

import zstandard

from bench import core_speed
from orchestrator.core import CustomerState
from orchestrator.core.migrations import dump_state, load_state

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "states"


def samples(fresh: int, mature: int, history: int) -> list[bytes | bytearray | memoryview]:
    fixture_states = [
        load_state(line) for path in sorted(FIXTURES.glob("*.jsonl")) for line in path.read_bytes().splitlines()
    ]
    w = core_speed.world()
    fresh_states: dict[str, CustomerState] = {}
    core_speed._replay(w, core_speed.fresh_events(fresh), fresh_states)  # noqa: SLF001 - the core benchmark's replay
    grown = core_speed.mature_states(w, mature, history)
    states = [*fixture_states, *fresh_states.values(), *grown]
    random.Random(1).shuffle(states)
    return [dump_state(s).encode() for s in states]


def module_text(dictionary: bytes, number: int, size: int, count: int) -> str:
    encoded = "\n".join(f'    "{line}"' for line in textwrap.wrap(base64.b64encode(dictionary).decode(), 100))
    digest = hashlib.sha256(dictionary).hexdigest()
    return f'''"""zstd dictionary {number} of packed states (core/packing.py): never edit it.

Its digest is pinned in tests/core/test_packing.py. Trained by ``bench/state_dictionary.py``
(``--size {size}``) on {count} stored states. sha256:
{digest}
"""

import base64

DICTIONARY = base64.b64decode(
{encoded}
)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="dictionary bytes")
    parser.add_argument("--number", type=int, default=2, help="the codec number it would get")
    parser.add_argument("--fresh", type=int, default=600)
    parser.add_argument("--mature", type=int, default=6)
    parser.add_argument("--history", type=int, default=600)
    parser.add_argument("--out", type=Path, required=True, help="the candidate module to write")
    args = parser.parse_args()
    found = samples(args.fresh, args.mature, args.history)
    trained = zstandard.train_dictionary(args.size, found, dict_id=args.number, level=1, threads=0)
    args.out.write_text(module_text(trained.as_bytes(), args.number, args.size, len(found)), encoding="utf-8")
    print(f"{len(found)} samples → {len(trained.as_bytes())} B dictionary in {args.out}")


if __name__ == "__main__":
    main()
