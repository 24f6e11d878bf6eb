"""The framework's own ceiling: a faust agent that only counts the records of a topic.

    python -m bench.perf.bare_agent    (configured by the environment, see ``main``)

Same transport as the engine (``orchestrator.faust_batch`` registers the ``xokafka`` driver
that replaces faust's hard-coded 1.5 s fetch wait with ``XO_FETCH_WAIT_MS``), same
session, heartbeat, partitions, raw serializers and the same ``take_events(batch, within)``
consumption; it exposes ``bare_events_total`` at ``/metrics``. ``BENCH_LOOP=uvloop`` runs
it on uvloop.

``BENCH_FORWARD=<topic>``: the engine's topology without its work. A first agent
re-produces every record to that topic under its key, through the app's producer, and
awaits the batch's acknowledgements (as the engine's identify stage does); a second agent
counts what arrives there. ``bare_events_total`` is then the second agent's count.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

import faust

from orchestrator import faust_batch  # registers the "xokafka" transport


def base_app(env: dict[str, str], **options: Any) -> faust.App:
    """The faust app every bare variant shares with the engine: transport, session, heartbeat,
    partitions, raw serializers; ``options`` add to faust's."""
    faust_batch.FETCH_WAIT_MS["value"] = int(env.get("XO_FETCH_WAIT_MS", "10"))
    session = float(env.get("XO_SESSION_TIMEOUT_S", "6"))
    group = env["BENCH_GROUP_ID"]
    return faust.App(
        group,
        broker=[f"xokafka://{host}" for host in env["KAFKA_BOOTSTRAP_SERVERS"].split(",")],
        broker_session_timeout=session,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=max(40.0, session + 10),
        consumer_auto_offset_reset="earliest",
        topic_partitions=int(env.get("XO_PARTITIONS", "4")),
        web_host="127.0.0.1",
        web_port=int(env["BENCH_WEB_PORT"]),
        datadir=os.path.join(env.get("XO_DATA_DIR", tempfile.gettempdir()), group),
        key_serializer="raw",
        value_serializer="raw",
        **options,
    )


def create_app(env: dict[str, str]) -> faust.App:
    app = base_app(env)
    partitions = int(env.get("XO_PARTITIONS", "4"))
    topic = app.topic(env["BENCH_TOPIC"], partitions=partitions, key_type=bytes, value_type=bytes)
    batch_size = int(env.get("XO_BATCH_SIZE", "500"))
    within = float(env.get("XO_BATCH_WITHIN_S", "0.05"))
    count = {"events": 0}
    forward = env.get("BENCH_FORWARD")
    counted = app.topic(forward, partitions=partitions, key_type=bytes, value_type=bytes) if forward else topic

    @app.agent(counted)
    async def counter(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(batch_size, within=within):  # type: ignore[attr-defined]
            count["events"] += len(batch)

    if forward:

        @app.agent(topic)
        async def forwarder(stream: faust.StreamT[bytes]) -> None:
            async for batch in stream.take_events(batch_size, within=within):  # type: ignore[attr-defined]
                sends = [
                    await app.producer.send(forward, e.message.key, e.message.value, None, None, None) for e in batch
                ]
                await asyncio.gather(*sends)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(f"bare_events_total {count['events']}\n".encode(), content_type="text/plain")

    return app


def main() -> None:
    env = dict(os.environ)
    if env.get("BENCH_LOOP") == "uvloop":
        import mode.loop  # noqa: PLC0415 - only for this variant

        mode.loop.use("uvloop")
    app = create_app(env)
    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()
