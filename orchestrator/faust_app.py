"""The faust edge: the input topics, drained in batches into the service's single pass.

    xo.events ──┬─ key canonical, home partition ──────────► process ──► actions, scenarios, DLQ
                └─ re-keyed ──► xo.events.by-customer ──────►    ▲
                              due timers (partitions owned) ─────┘ in-process

One call of ``service.single_pass`` per fetch (faust_batch.BatchConsumer): routing, the
handler's commit order and the due timers; then the offsets are committed. Nothing here
decides anything; this module only wires, converts records and reports metrics.
The edge also owns: the Kafka credentials (TLS / SASL, from adapters.kafka_security), the web
server (only /metrics, /healthz and /readyz), the bounded stop (service.shutdown) and the log
format (logs).
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import faust
from aiokafka import AIOKafkaProducer
from faust.web.drivers import DRIVERS as WEB_DRIVERS
from faust.web.drivers import aiohttp as faust_aiohttp

from orchestrator import audience_worker, faust_batch, logs, reloading
from orchestrator.adapters.kafka_partitioner import CachedPartitioner, partition_for
from orchestrator.adapters.kafka_probe import KafkaProbe
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import Wired, kafka_security
from orchestrator.service import timers
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.health import LoopWatch, NotReady, readiness
from orchestrator.service.report import log_problems
from orchestrator.service.retry import retrying
from orchestrator.service.shutdown import ShutdownGuard
from orchestrator.service.single_pass import Batch, SinglePass

log = logging.getLogger("orchestrator.worker")
READY_TIMEOUT_S = 2.0  # each readiness check; probes usually time out after 1-5 s
STREAM_HEALTH_S = 5.0  # how often consumer lag is read
GC_THRESHOLD = 100_000  # allocations between collections of the youngest generation (Python's default: 700)


class _Web(faust_aiohttp.Web):
    """faust's web server without its built-in pages: the index at ``/``, ``/router/`` (which lists
    the topology), ``/table/``, statistics and graphs. Only the pages this module adds answer."""

    default_blueprints: ClassVar[list[Any]] = []
    production_blueprints: ClassVar[list[Any]] = []
    debug_blueprints: ClassVar[list[Any]] = []
    optional_blueprints: ClassVar[list[Any]] = []


WEB_DRIVERS["xoaiohttp"] = f"{__name__}:_Web"


def producer_of(app: faust.App) -> Callable[[], AIOKafkaProducer]:
    """The aiokafka producer faust makes when the app starts (its NotReady before then), for the
    publisher's record batches (adapters/kafka_batches.py), which faust's per-record ``send`` has
    no way to pass; pinned by tests/adapters/test_faust_batch.py."""

    def producer() -> AIOKafkaProducer:
        faust_producer: Any = app.producer  # made on first use; faust types it as ProducerT
        made: AIOKafkaProducer = faust_producer._ensure_producer()  # noqa: SLF001 - see above
        return made

    return producer


def run_worker(wired: Wired, store: RedisStore) -> None:
    """Run a worker until a stop signal; the process ends within XO_SHUTDOWN_TIMEOUT_S of it."""
    s = wired.settings
    # A batch allocates many short-lived containers (states, views, records) that reference counting
    # frees; the cyclic collector's youngest generation ran every 700 allocations, scanning them for
    # nothing (measured: ~15 % of the worker's CPU per input). Cycles are still collected, later.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    guard = ShutdownGuard(s.xo_shutdown_timeout_s, os._exit)
    app = create_app(wired, store, guard)
    settle_heap(wired)
    # JSON logs: faust keeps the JSON configuration and prints no banner, spinner or "OK".
    json_logging = logs.json_config(s.xo_log_level) if s.xo_log_format == "json" else None
    worker = _Worker(app, guard, loglevel=s.xo_log_level, logging_config=json_logging, quiet=json_logging is not None)
    worker.execute_from_commandline()


def settle_heap(wired: Wired) -> None:
    """Load what the worker keeps for its life (jieba's dictionary loads on the first cut), then
    move every object made so far out of the cyclic collector's sight (``gc.freeze``).

    A collection of the oldest generation walks every container alive: with the journeys, the
    catalog, jieba and the libraries loaded, ~17 ms or more (``bench/README.md``), and the worker
    ran one every few seconds of load, holding up a batch, the slowest 1 % of latencies. Frozen
    objects are never scanned and never freed; what is made later is collected as before."""
    if wired.world.tokenizer is not None:
        wired.world.tokenizer.cut("预热")
    gc.collect()
    gc.freeze()


class _Worker(faust.Worker):
    """faust's worker, whose stop signals also start the shutdown clock."""

    def __init__(self, app: faust.App, guard: ShutdownGuard, **options: Any) -> None:
        super().__init__(app, **options)
        self.guard = guard

    def install_signal_handlers(self) -> None:
        super().install_signal_handlers()
        # Replaces faust's handlers with ones that start the clock, then do what faust's did.
        self.loop.add_signal_handler(signal.SIGTERM, self._stop_on, self._on_sigterm)
        self.loop.add_signal_handler(signal.SIGINT, self._stop_on, self._on_sigint)

    def _stop_on(self, handler: Callable[[], None]) -> None:
        self.guard.begin()
        handler()


def create_app(wired: Wired, store: RedisStore, guard: ShutdownGuard | None = None) -> faust.App:
    s = wired.settings
    guard = guard or ShutdownGuard(s.xo_shutdown_timeout_s, os._exit)
    bootstrap, _ = s.require_servers()
    faust_batch.FETCH_WAIT_MS["value"] = s.xo_fetch_wait_ms
    # aiokafka logs every produced record at debug level; at scale even the level checks show.
    # INFO keeps its group messages (partition assignments), which operators and tests read.
    logging.getLogger("aiokafka").setLevel(logging.INFO)
    partitioner = CachedPartitioner()  # the producer's, and the publisher's record batches'
    app = faust.App(
        s.xo_group_id,
        broker=[f"xokafka://{host}" for host in bootstrap.split(",")],
        broker_credentials=_credentials(wired),
        broker_session_timeout=s.xo_session_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=max(40.0, s.xo_session_timeout_s + 10),
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=s.xo_batch_size,  # one fetch is one batch of the single pass
        topic_partitions=s.xo_partitions,
        web=f"xoaiohttp://{s.xo_web_host}:{s.xo_web_port}",
        topic_replication_factor=s.xo_replication_factor,
        web_host=s.xo_web_host,
        web_port=s.xo_web_port,
        datadir=str(s.xo_data_dir / s.xo_group_id),
        key_serializer="raw",
        value_serializer="raw",
        producer_partitioner=partitioner,  # the default's partitions, murmur2 of recent keys remembered
    )
    topics = wired.topics
    for name in (topics.events, topics.by_customer):  # consumed by faust_batch, not by an agent: no acks
        app.topics.add(app.topic(name, partitions=s.xo_partitions, key_type=bytes, value_type=bytes, acks=False))
    outputs = [app.topic(name, partitions=s.xo_partitions) for name in _output_topics(wired)]
    publisher = KafkaPublisher.batching(producer_of(app), partitioner)  # the producer's partitions
    graph = RedisIdentityGraph(store.client, prefix=store.prefix)  # OneID: the identity graph
    owned = lambda: sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topics.by_customer)  # noqa: E731 - the walk asks at each round
    audiences = audience_worker.install(app, wired, store, publisher, owned)  # audiences: index on commit, walks
    handler = Handler(wired.world, audiences.store, publisher, wired.clock, topics).use_identity_graph(graph)
    reloader = reloading.install(app, wired, handler, also=audiences.use_world)  # changed files go live, no restart
    pacer = timers.Pacer(store, wired.clock, s.xo_timer_interval_s, limit=max(s.xo_batch_size, timers.BATCH))
    single = SinglePass(handler, pacer, _home(app, topics.by_customer, s.xo_partitions), graph, wired.world.identity)
    wait_s = min(s.xo_timer_interval_s, 1.0)
    faust_batch.attach(app, faust_batch.Runner(_batches(single, wired), guard, wait_s))

    @app.timer(interval=STREAM_HEALTH_S)  # type: ignore[untyped-decorator]  # faust ships no types here
    async def stream_health() -> None:
        await _consumer_lag(app, wired)

    @app.task  # type: ignore[untyped-decorator]  # faust ships no types here
    async def declare_outputs() -> None:
        for topic in outputs:
            await topic.maybe_declare()

    app.on_partitions_assigned.connect(_log_assignment)
    _serve(app, wired, store, bootstrap, lambda: len(reloader.world.journeys))
    return app


def _serve(app: faust.App, wired: Wired, store: RedisStore, bootstrap: str, journeys: Callable[[], int]) -> None:
    """The only pages the web server answers: /metrics, /healthz and /readyz (``journeys``: the live set's count)."""
    watch = LoopWatch(wired.clock.monotonic)
    kafka = KafkaProbe(bootstrap, kafka_security(wired.settings).client_options())
    topics = {wired.topics.events, wired.topics.by_customer}

    async def partitions() -> str:
        assigned = sorted(f"{tp.topic}[{tp.partition}]" for tp in app.consumer.assignment() if tp.topic in topics)
        if not assigned:
            raise NotReady("no partitions assigned (yet, or more workers than partitions)")
        return ", ".join(assigned)

    async def redis() -> str:
        await store.client.ping()
        return "PONG"

    async def config() -> str:
        return f"{journeys()} journey(s) loaded"

    probes = {"partitions": partitions, "redis": redis, "kafka": kafka.check, "config": config}

    @app.task  # type: ignore[untyped-decorator]  # faust ships no types here
    async def watch_loop() -> None:
        await watch.run()

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(wired.metrics.exposition(), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        report = watch.liveness()
        return web.json(report.body(), status=report.status)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        report = await readiness(probes, READY_TIMEOUT_S)
        return web.json(report.body(), status=report.status)


async def _log_assignment(sender: Any, /, *args: Any, signal: Any, **_: Any) -> None:
    """The same facts as faust's table of them, as one record (JSON mode drops that table).
    faust sends the set of assigned topic-partitions as the first argument after the sender."""
    owned: dict[str, list[int]] = {}
    for tp in sorted(args[0] if args else ()):
        owned.setdefault(tp.topic, []).append(tp.partition)
    listed = "; ".join(f"{topic} {partitions}" for topic, partitions in owned.items())
    log.info("partitions assigned: %s", listed or "none", extra={"kind": "assignment", "partitions": owned})


async def _consumer_lag(app: faust.App, wired: Wired) -> None:
    """Records not yet read per owned input partition (on Tansu high water counts batches: read it as a trend)."""
    inputs = {wired.topics.events, wired.topics.by_customer}
    for tp in app.consumer.assignment():
        if tp.topic not in inputs:
            continue
        try:
            position = await app.consumer.position(tp)
            highwater = app.consumer.highwater(tp)
        except Exception:  # a partition revoked meanwhile: the next round sees the new assignment
            log.debug("no lag for %s[%d]", tp.topic, tp.partition, exc_info=True)
            continue
        if position is not None and highwater is not None:
            wired.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))


def _home(app: faust.App, topic: str, default: int) -> Callable[[str], int]:
    """The partition of ``topic`` a customer id hashes to (the producer's murmur2), by its
    partition count as the consumer's metadata has it."""

    @functools.lru_cache(maxsize=1 << 16)  # murmur2 is pure Python (~5 µs); customers come back
    def hashed(cid: str, partitions: int) -> int:
        return partition_for(cid, partitions)

    def home(cid: str) -> int:
        return hashed(cid, app.consumer.topic_partitions(topic) or default)

    return home


def _batches(single: SinglePass, wired: Wired) -> faust_batch.BatchCall:
    """The consumer's call per fetch: records → the single pass (retried while transient) →
    metrics → the offsets to commit."""
    topics, metrics, clock = wired.topics, wired.metrics, wired.clock

    async def call(fetched: Mapping[Any, Sequence[Any]], active: frozenset[Any]) -> dict[Any, int]:
        received = clock.monotonic()
        arrivals: list[InRecord] = []
        keyed: list[InRecord] = []
        for tp, records in fetched.items():
            into = arrivals if tp.topic == topics.events else keyed
            into.extend(InRecord(r.partition, r.offset, r.key, r.value, received) for r in records)
        owned = frozenset(tp.partition for tp in active if tp.topic == topics.by_customer)
        batch = Batch(arrivals, keyed, owned)
        done = await retrying(lambda: single.handle(batch), "process batch")
        now = clock.now().timestamp()
        for ref in done.timers:
            metrics.timer_lateness.observe(max(0.0, now - ref.due_ms / 1000))
        if done.timers or owned:
            metrics.timers_due.set(len(done.timers))
        metrics.routed.labels("here").inc(done.here)
        metrics.routed.labels("rekeyed").inc(done.rekeyed)
        for report, stage in ((done.routing, "identify"), (done.processing, "process")):
            metrics.observe(report, stage)
            log_problems(report, stage)
        return {tp: records[-1].offset + 1 for tp, records in fetched.items() if records}

    return call


def _output_topics(wired: Wired) -> list[str]:
    channels = sorted({c for j in wired.world.journeys for c in j.channels()})
    t = wired.topics
    return [t.scenarios, t.dlq, t.identity, t.journey_log, *(t.actions(c) for c in channels)]


def _credentials(wired: Wired) -> Any:
    """faust's credentials carrying the same SSL context and secret as every other Kafka client."""
    security = kafka_security(wired.settings)
    context = security.ssl_context()
    if security.sasl:
        return faust.SASLCredentials(
            username=security.username,
            password=security.sasl_password(),
            mechanism=security.sasl_mechanism,
            ssl_context=context,
        )
    if security.tls:
        return faust.SSLCredentials(context)
    return None
