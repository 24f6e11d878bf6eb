"""A faust app whose batch consumer (orchestrator/faust_batch.py) only counts the records of a topic.

    python -m bench.hot_path_counter    (the environment of bench/perf/bare_agent.py)

The consumption half of the hot path without the engine: the same transport, group, session
and partitions as the bare agent, the records handed over a fetch at a time and their
offsets committed, as the worker does; ``bare_events_total`` at ``/metrics``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import faust

from bench.perf import bare_agent
from orchestrator import faust_batch
from orchestrator.service.shutdown import ShutdownGuard


def create_app(env: dict[str, str]) -> faust.App:
    app = bare_agent.base_app(env, broker_max_poll_records=int(env.get("XO_BATCH_SIZE", "500")))
    partitions = int(env.get("XO_PARTITIONS", "4"))
    app.topics.add(app.topic(env["BENCH_TOPIC"], partitions=partitions, acks=False))
    count = {"events": 0}

    async def counted(fetched: Mapping[Any, Sequence[Any]], active: frozenset[Any]) -> dict[Any, int]:
        count["events"] += sum(len(records) for records in fetched.values())
        return {tp: records[-1].offset + 1 for tp, records in fetched.items() if records}

    faust_batch.attach(app, faust_batch.Runner(counted, ShutdownGuard(20, os._exit), 0.25))

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(f"bare_events_total {count['events']}\n".encode(), content_type="text/plain")

    return app


def main() -> None:
    faust.Worker(create_app(dict(os.environ)), loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()
