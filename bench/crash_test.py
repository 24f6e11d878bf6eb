"""Crash harness: SIGKILL a real worker at random moments while a stream of events runs through it.

    .venv/bin/python -m bench.crash_test [--events 20000] [--customers 2000] [--kills 5] [--seed 1]

Every customer registers (with a WeCom id and a phone), bought one PRO-900 27 days ago
(so the consumption-cycle timer is already due when the order is processed) and does a
few other things (filler events). The journey in ``bench/crash/journeys`` sends on WeCom,
waits 2 s in real time, sends an SMS, waits 2 s again and sends on WeCom, so kills land
between sends, during waits, in the middle of batches and of the commit order.

The events are produced at ``--rate`` per second, keyed by customer, while the worker is
killed with SIGKILL ``--kills`` times, each time at a random moment (a random delay after
the new process started to consume) and restarted at once. After the last restart the
harness waits for every expected action, for the Redis outbox to drain, and for a marker
on every partition of the action topics (so that everything produced before is read).

Expected actions are the ``action_id`` values a dry run of the same events through the
pure core (``service.simulate``) produces, with its clock run a day past now so that the
waits, which fire in real time in the live run, fire there too. Content is not compared
with the dry run (``days_left`` and ``created_at`` depend on when a timer is processed);
copies of one ``action_id`` are compared with each other.

Starts an embedded Kafka (Tansu) and Redis unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are
set. Prints progress, then a report; exit status 1 on any loss, divergence or failure.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from kafka import KafkaProducer
from redis import Redis

from bench.perf.workload import event
from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.bootstrap import load_world
from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis
from orchestrator.harness import TopicWatcher, WorkerProcess, metric_sum
from orchestrator.service.simulate import simulate
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings

HERE = Path(__file__).resolve().parent
JOURNEYS = HERE / "crash" / "journeys"
TEMPLATES = HERE / "crash" / "templates"
CHANNELS = ("wecom_private", "sms")
FILLER_TYPES = ("product.viewed", "page.visited", "cart.updated", "coupon.viewed")
STEPS_PER_CUSTOMER = 3  # the journey's three sends
START_TIMEOUT_S = 90.0  # a restarted worker rejoins the group and consumes within this
PROGRESS_EVERY_S = 5.0
Out = Callable[[str], None]


class HarnessError(Exception):
    """The run could not be carried out (or the worker died on its own)."""


@dataclass(frozen=True)
class Options:
    events: int = 20_000
    customers: int = 2_000
    kills: int = 5
    seed: int = 1
    rate: float = 250.0  # events produced per second
    partitions: int = 4
    kill_delay: tuple[float, float] = (0.5, 5.0)  # seconds of consuming before a kill, uniform
    timeout: float = 180.0  # for the last actions after the last restart


@dataclass(frozen=True)
class Report:
    events: int
    customers: int
    kills: int
    expected_actions: int
    actions_seen: int  # action records read from the action topics
    distinct_action_ids: int
    missing: int  # expected action ids never seen
    unexpected: int  # action ids the dry run does not produce: a second, different action for an occurrence
    divergent: int  # action ids seen with two different payloads
    republished: int  # records beyond the first of each action id: re-produced copies
    dead_letters: int
    pending_outbox: int  # customers with outbox entries still pending at the end
    duplicate_inputs: int  # at least: redelivered inputs the workers recognised (scraped before each kill)
    duration_s: float
    # Seconds each wait step overran (send after a wait − send before it − the 2 s wait), sorted:
    # how late due timers fired across the kills and restarts.
    wait_overruns: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.divergent or self.dead_letters or self.pending_outbox)

    def lines(self) -> list[str]:
        return [
            f"events                 {self.events}",
            f"customers              {self.customers}",
            f"kills (SIGKILL)        {self.kills}",
            f"expected actions       {self.expected_actions}",
            f"actions seen           {self.actions_seen}",
            f"distinct action_ids    {self.distinct_action_ids}",
            f"missing                {self.missing}",
            f"unexpected action_ids  {self.unexpected}",
            f"two different payloads {self.divergent}",
            f"re-published copies    {self.republished}",
            f"dead letters           {self.dead_letters}",
            f"pending outbox at end  {self.pending_outbox}",
            f"duplicate inputs (≥)   {self.duplicate_inputs}",
            f"duration               {self.duration_s:.1f}s",
            f"timers late (waits)    {_spread(self.wait_overruns)}",
            "OK" if self.ok else "FAILED",
        ]


# --- the stream ------------------------------------------------------------------------


def make_events(options: Options, now: datetime) -> list[tuple[str, bytes]]:
    """(customer id, record) in production order: each customer's events in order, customers interleaved."""
    if options.customers < 1 or options.events < 2 * options.customers:
        raise ValueError("need at least one customer and two events per customer")
    rng = random.Random(options.seed)
    fillers = options.events - 2 * options.customers
    placed: list[tuple[float, str, bytes]] = []
    for index in range(options.customers):
        cid = f"C{index:06d}"
        extra = fillers // options.customers + (1 if index < fillers % options.customers else 0)
        # Registered first (the sends need its WeCom id and phone), the order anywhere after.
        timeline = _fillers(cid, extra, now, rng)
        timeline.insert(rng.randint(0, extra), _ordered(cid, now, rng))
        timeline.insert(0, _registered(cid, index, now))
        positions = sorted(rng.random() for _ in timeline)  # a random interleaving that keeps the order
        placed.extend((position, cid, value) for position, value in zip(positions, timeline, strict=True))
    placed.sort(key=lambda item: item[0])
    return [(cid, value) for _, cid, value in placed]


def _registered(cid: str, index: int, now: datetime) -> bytes:
    identity = {"wecom_external_id": f"wm-{cid}", "phone": f"+86138{index:08d}"}
    at = now - timedelta(days=40)
    return event(f"{cid}-reg", cid, "customer.registered", at, {"name": f"顾客{index}"}, **identity)


def _ordered(cid: str, now: datetime, rng: random.Random) -> bytes:
    # 27 days ago (± hours): run-out in about 3 days, cycle timer (5 days' lead) due 2 days ago.
    at = now - timedelta(days=27, hours=rng.uniform(0, 12))
    data: dict[str, object] = {"order_id": f"O-{cid}", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}
    return event(f"{cid}-order", cid, "order.paid", at, data)


def _fillers(cid: str, count: int, now: datetime, rng: random.Random) -> list[bytes]:
    moments = sorted(now - timedelta(seconds=rng.uniform(60, 26 * 86400)) for _ in range(count))
    return [
        event(f"{cid}-f{n}", cid, rng.choice(FILLER_TYPES), at, {"sku": "PRO-900", "n": n})
        for n, at in enumerate(moments)
    ]


def expected_action_ids(records: Sequence[tuple[str, bytes]], now: datetime) -> set[str]:
    """The dry run's action ids, customer by customer (customers never share state)."""
    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
    by_customer: dict[str, list[bytes]] = defaultdict(list)
    for cid, value in records:
        by_customer[cid].append(value)
    expected: set[str] = set()
    for cid, lines in by_customer.items():
        sim = simulate(world, lines, until=now + timedelta(days=1))
        if sim.rejected:
            raise HarnessError(f"dry run of {cid}: rejected {sim.rejected}")
        expected.update(a.action_id for a in sim.actions)
    if len(expected) != STEPS_PER_CUSTOMER * len(by_customer):
        raise HarnessError(f"dry run gives {len(expected)} actions for {len(by_customer)} customers")
    return expected


class PacedProducer(threading.Thread):
    """Produces ``records`` keyed by customer at ``rate`` per second, in the background."""

    def __init__(self, bootstrap: str, topic: str, records: Sequence[tuple[str, bytes]], rate: float) -> None:
        super().__init__(name="paced-producer", daemon=True)
        self.bootstrap, self.topic, self.records, self.rate = bootstrap, topic, records, rate
        self.sent = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
            try:
                started = time.monotonic()
                while self.sent < len(self.records) and not self._halt.is_set():
                    target = min(len(self.records), int((time.monotonic() - started) * self.rate) + 1)
                    for cid, value in self.records[self.sent : target]:
                        producer.send(self.topic, key=cid.encode(), value=value)
                    self.sent = max(self.sent, target)
                    self._halt.wait(0.05)  # pacing: the next slice is due in 50 ms
                producer.flush()
            finally:
                producer.close()
        except BaseException as exc:  # reported by the harness thread
            self.error = exc

    @property
    def done(self) -> bool:
        return not self.is_alive() and self.error is None and self.sent == len(self.records)

    def halt(self) -> None:
        self._halt.set()
        self.join(timeout=30)


# --- the run ---------------------------------------------------------------------------


@dataclass
class _Run:
    options: Options
    out: Out
    started: float
    expected: set[str]
    watcher: TopicWatcher
    producer: PacedProducer
    action_topics: frozenset[str]
    payloads: dict[str, set[bytes]] = field(default_factory=lambda: defaultdict(set))
    action_records: int = 0
    kills: int = 0
    duplicate_inputs: int = 0
    _progress_at: float = 0.0

    def poll(self) -> None:
        for record in self.watcher.poll():
            if record.topic in self.action_topics and "marker" not in record.value:
                self.action_records += 1
                self.payloads[str(record.value.get("action_id"))].add(orjson.dumps(record.value, option=_SORTED))
        if time.monotonic() >= self._progress_at:
            self._progress_at = time.monotonic() + PROGRESS_EVERY_S
            self.progress()

    def progress(self, note: str = "") -> None:
        got = len(self.expected & self.payloads.keys())
        self.out(
            f"[{time.monotonic() - self.started:6.1f}s] produced {self.producer.sent}/{len(self.producer.records)}"
            f" · actions {got}/{len(self.expected)} (records {self.action_records})"
            f" · kills {self.kills}/{self.options.kills}{f' · {note}' if note else ''}"
        )

    def until(self, done: Callable[[], bool], timeout: float, worker: WorkerProcess | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if self.producer.error is not None:
                raise HarnessError(f"producer failed: {self.producer.error!r}")
            if worker is not None and not worker.alive():
                raise HarnessError(f"the worker exited by itself (code {worker.stop()}):\n{worker.log_tail()}")
            if done():
                return True
        return False


_SORTED = orjson.OPT_SORT_KEYS


def _inputs_seen(worker: WorkerProcess) -> float:
    metrics = worker.metrics()
    names = ("xo_events_total", "xo_timers_fired_total", "xo_inputs_duplicate_total")
    return sum(metric_sum(metrics, name) for name in names)


def run(options: Options, bootstrap: str, redis_url: str, out: Out = print) -> Report:
    """One crash run against the given servers; raises HarnessError when it cannot be carried out."""
    started = time.monotonic()
    now = datetime.now(tz=UTC)
    records = make_events(options, now)
    expected = expected_action_ids(records, now)
    prefix = f"crash{options.seed}-{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    action_topics = [topics.actions(c) for c in CHANNELS]
    names = [topics.events, topics.by_customer, *action_topics, topics.scenarios, topics.dlq]
    ensure_topics(bootstrap, dict.fromkeys(names, options.partitions), {})
    out(
        f"crash test · {len(records)} events · {options.customers} customers · {options.kills} kills"
        f" · seed {options.seed} · prefix {prefix} · expected actions {len(expected)}"
    )
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": prefix,
        "XO_PARTITIONS": str(options.partitions),
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": "",  # set below, to a folder removed at the end
        "XO_JOURNEYS_DIR": str(JOURNEYS),
        "XO_TEMPLATES_DIR": str(TEMPLATES),
    }
    with ExitStack() as stack:
        env["XO_DATA_DIR"] = stack.enter_context(tempfile.TemporaryDirectory(prefix="xo-crash-"))
        watcher = TopicWatcher(bootstrap, [*action_topics, topics.dlq], {})
        stack.callback(watcher.close)
        producer = PacedProducer(bootstrap, topics.events, records, options.rate)
        stack.callback(producer.halt)
        state = _Run(options, out, started, expected, watcher, producer, frozenset(action_topics))
        workers: list[WorkerProcess] = [WorkerProcess(env).start()]

        def stop_last() -> None:  # the worker alive at the end, whichever restart it is
            workers[-1].stop()

        stack.callback(stop_last)
        producer.start()
        _kill_loop(state, workers, env, random.Random(options.seed + 1))
        worker = workers[-1]
        if not state.until(lambda: producer.done and expected <= state.payloads.keys(), options.timeout, worker):
            state.progress("gave up waiting for the last actions")
        pending = _drain_outbox(state, redis_url, prefix, worker)
        _read_to_markers(state, bootstrap, action_topics, worker)
        state.duplicate_inputs += int(metric_sum(worker.metrics(), "xo_inputs_duplicate_total"))
        state.progress("done")
        dead_letters = len(watcher.of(topics.dlq))
        if dead_letters:
            out(f"first dead letter: {watcher.of(topics.dlq)[0].value}")
        if not expected <= state.payloads.keys():
            out(f"worker log tail:\n{worker.log_tail()}")
    seen = state.payloads
    return Report(
        events=len(records),
        customers=options.customers,
        kills=state.kills,
        expected_actions=len(expected),
        actions_seen=state.action_records,
        distinct_action_ids=len(seen),
        missing=len(expected - seen.keys()),
        unexpected=len(seen.keys() - expected),
        divergent=sum(1 for copies in seen.values() if len(copies) > 1),
        republished=state.action_records - len(seen),
        dead_letters=dead_letters,
        pending_outbox=pending,
        duplicate_inputs=state.duplicate_inputs,
        duration_s=time.monotonic() - started,
        wait_overruns=_wait_overruns(seen),
    )


def _wait_overruns(seen: dict[str, set[bytes]]) -> list[float]:
    """How long after its wait each customer's second and third sends came (the first copy of each)."""
    sent: dict[str, dict[str, datetime]] = defaultdict(dict)
    for copies in seen.values():
        action = orjson.loads(min(copies))
        sent[str(action["customer_id"])][str(action["journey"]["step"])] = datetime.fromisoformat(action["created_at"])
    wait = timedelta(seconds=2)  # the crash journey's waits
    overruns = [
        (steps[after] - steps[before] - wait).total_seconds()
        for steps in sent.values()
        for before, after in (("first", "second"), ("second", "third"))
        if before in steps and after in steps
    ]
    return sorted(overruns)


def _spread(values: list[float]) -> str:
    if not values:
        return "-"

    def at(share: float) -> float:
        return values[min(len(values) - 1, int(len(values) * share))]

    over5 = sum(v > 5 for v in values)
    return (
        f"p50 {at(0.5):.2f}s · p90 {at(0.9):.2f}s · p99 {at(0.99):.2f}s · max {values[-1]:.2f}s"
        f" · {over5} of {len(values)} over 5 s"
    )


def _kill_loop(state: _Run, workers: list[WorkerProcess], env: dict[str, str], rng: random.Random) -> None:
    for kill in range(1, state.options.kills + 1):
        worker = workers[-1]
        if not state.until(lambda: _inputs_seen(worker) > 0, START_TIMEOUT_S, worker):  # noqa: B023 - called at once
            raise HarnessError(f"worker did not consume within {START_TIMEOUT_S}s:\n{worker.log_tail()}")
        delay = rng.uniform(*state.options.kill_delay)
        moment = time.monotonic() + delay
        state.until(lambda: time.monotonic() >= moment, delay + 1, worker)  # noqa: B023 - called at once
        state.duplicate_inputs += int(metric_sum(worker.metrics(), "xo_inputs_duplicate_total"))
        worker.kill()  # SIGKILL
        state.kills = kill
        pid = worker.proc.pid if worker.proc else "?"
        state.progress(f"SIGKILL pid {pid} after {delay:.1f}s of consuming; restarting")
        workers.append(WorkerProcess(env).start())


def _drain_outbox(state: _Run, redis_url: str, prefix: str, worker: WorkerProcess) -> int:
    """Wait until no customer has outbox entries pending; return how many still have some."""
    client = Redis.from_url(redis_url)
    try:

        def pending() -> int:
            return sum(1 for _ in client.scan_iter(match=f"{prefix}:{{*}}:outbox", count=1000))

        # A pending outbox is re-produced on redelivery or by its sweep timer (30 s).
        state.until(lambda: pending() == 0, 90.0, worker)
        return pending()
    finally:
        client.close()


def _read_to_markers(state: _Run, bootstrap: str, topics: Iterable[str], worker: WorkerProcess) -> None:
    """Put a marker on every partition of the action topics and read until all are back."""
    token = uuid.uuid4().hex
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        wanted = set()
        for topic in topics:
            for partition in sorted(producer.partitions_for(topic)):
                producer.send(topic, value=orjson.dumps({"marker": token}), partition=partition)
                wanted.add((topic, partition))
        producer.flush()
    finally:
        producer.close()

    def all_back() -> bool:
        markers = [r for r in state.watcher.received if r.value.get("marker") == token]
        return len(markers) >= len(wanted)

    if not state.until(all_back, 60.0, worker):
        raise HarnessError("markers on the action topics did not come back within 60 s")


# --- command line ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="crash_test", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=defaults.events, help="default %(default)s")
    parser.add_argument("--customers", type=int, default=defaults.customers, help="default %(default)s")
    parser.add_argument("--kills", type=int, default=defaults.kills, help="SIGKILLs, each followed by a restart")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seeds the events and the kill moments")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="events produced per second")
    parser.add_argument("--partitions", type=int, default=defaults.partitions, help="partitions per topic")
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="seconds for the last actions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = Options(
        events=args.events,
        customers=args.customers,
        kills=args.kills,
        seed=args.seed,
        rate=args.rate,
        partitions=args.partitions,
        timeout=args.timeout,
    )
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(EmbeddedKafka()).bootstrap
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(EmbeddedRedis()).url
        try:
            report = run(options, bootstrap, redis_url)
        except (HarnessError, ValueError) as exc:
            print(f"crash test FAILED: {exc}", file=sys.stderr)
            return 1
    print("\nreport")
    for line in report.lines():
        print(f"  {line}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
