"""A faust app whose batch consumer (orchestrator/faust_batch.py) only counts the records of a topic.

    python -m bench.hot_path_counter    (the environment of bench/perf/bare_agent.py)

The consumption half of the hot path without the engine: the same transport, group, session
and partitions as the bare agent, the records handed over a fetch at a time and their
offsets committed, as the worker does; ``bare_events_total`` at ``/metrics``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import faust

from orchestrator import faust_batch
from orchestrator.service.shutdown import ShutdownGuard


def create_app(env: dict[str, str]) -> faust.App:
    faust_batch.FETCH_WAIT_MS["value"] = int(env.get("XO_FETCH_WAIT_MS", "10"))
    session = float(env.get("XO_SESSION_TIMEOUT_S", "6"))
    partitions = int(env.get("XO_PARTITIONS", "4"))
    group = env["BENCH_GROUP_ID"]
    app = faust.App(
        group,
        broker=[f"xokafka://{host}" for host in env["KAFKA_BOOTSTRAP_SERVERS"].split(",")],
        broker_session_timeout=session,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=max(40.0, session + 10),
        broker_max_poll_records=int(env.get("XO_BATCH_SIZE", "500")),
        consumer_auto_offset_reset="earliest",
        topic_partitions=partitions,
        web_host="127.0.0.1",
        web_port=int(env["BENCH_WEB_PORT"]),
        datadir=os.path.join(env.get("XO_DATA_DIR", tempfile.gettempdir()), group),
        key_serializer="raw",
        value_serializer="raw",
    )
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
