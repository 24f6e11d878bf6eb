"""``orchestrator worker`` on uvloop, unchanged otherwise: the event-loop variant of the benchmark.

python -m bench.perf.uvloop_worker    (the same environment as ``orchestrator worker``)
"""

from __future__ import annotations

import sys

import mode.loop

from orchestrator.cli import main

if __name__ == "__main__":
    mode.loop.use("uvloop")
    sys.exit(main(["worker"]))
