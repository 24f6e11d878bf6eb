"""``orchestrator demo``: the whole flow on real servers in under a minute.

Starts the embedded Kafka broker and Redis (unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL
are set), a worker, feeds the example events (times shifted so that the latest is a
minute ago), prints every action as it arrives and checks the result against a dry run
of the same events through the pure core.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.bootstrap import kafka_client_options, load_world
from orchestrator.channels.loop import describe_receipt, dry_run_with_receipts, start_channel_workers
from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis
from orchestrator.harness import Received, TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings


def shift_times(lines: list[bytes], latest: datetime) -> list[bytes]:
    """Move every parseable event's time by one offset so the latest lands at ``latest``."""
    parsed: list[tuple[bytes, dict[str, object] | None, datetime | None]] = []
    for line in lines:
        try:
            event = orjson.loads(line)
            moment = datetime.fromisoformat(str(event["time"])) if isinstance(event, dict) else None
        except (orjson.JSONDecodeError, KeyError, ValueError):
            event, moment = None, None
        parsed.append((line, event if isinstance(event, dict) else None, moment))
    times = [m for _, _, m in parsed if m is not None and m.tzinfo is not None]
    if not times:
        return lines
    offset = latest - max(times)
    shifted = []
    for line, event, moment in parsed:
        if event is not None and moment is not None and moment.tzinfo is not None:
            event["time"] = (moment + offset).isoformat()
            shifted.append(orjson.dumps(event))
        else:
            shifted.append(line)  # not a valid event: it goes out as is, and to the DLQ
    return shifted


def masked_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.hostname or ""
    netloc = f"{user}***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def send_file(settings: Settings, path: Path) -> int:
    bootstrap = settings.kafka_bootstrap_servers or ""
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    return produce(bootstrap, Topics(settings.xo_topic_prefix).events, lines, kafka_client_options(settings))


def run_demo(settings: Settings, events_path: Path, timeout: float) -> int:
    started = time.monotonic()
    # The demo runs at any hour: quiet hours would hold its sends until morning.
    settings = settings.model_copy(update={"xo_contact_policy": "off"})
    _, world = load_world(settings)
    topics = Topics(settings.xo_topic_prefix)
    now = datetime.now(tz=UTC)
    lines = shift_times([ln for ln in events_path.read_bytes().splitlines() if ln.strip()], now - timedelta(minutes=1))
    expected = dry_run_with_receipts(world, lines, until=now)  # with the receipts the channel workers send
    expected_ids = {a.action_id for a in expected.actions}
    options = kafka_client_options(settings)
    with ExitStack() as stack:
        bootstrap = settings.kafka_bootstrap_servers or stack.enter_context(EmbeddedKafka()).bootstrap
        configured = settings.redis_url.get_secret_value() if settings.redis_url else None
        redis_url = configured or stack.enter_context(EmbeddedRedis()).url
        print(
            f"xo-journeys demo · Kafka {bootstrap}{'' if settings.kafka_bootstrap_servers else ' (embedded Tansu)'}"
            f" · Redis {masked_url(redis_url)}{'' if configured else ' (embedded)'} · contact policy off"
        )
        channels = sorted({a.channel for a in expected.actions} | {"wecom_private"})
        outputs = [
            topics.dlq,
            topics.scenarios,
            topics.journey_log,
            *(topics.actions(c) for c in channels),
            topics.events,  # receipts, keyed by customer id: processed where they land, never re-keyed
        ]
        partitions = dict.fromkeys((topics.events, topics.by_customer), settings.xo_partitions)
        ensure_topics(bootstrap, {**partitions, **dict.fromkeys(outputs, settings.xo_partitions)}, options)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDIS_URL": redis_url,
            "XO_GROUP_ID": f"xo-demo-{int(now.timestamp())}",
            "XO_SESSION_TIMEOUT_S": "6",
            "XO_FETCH_WAIT_MS": "10",
            "XO_CONTACT_POLICY": "off",
        }
        worker = WorkerProcess(env).start()
        stack.callback(worker.stop)
        # Reference channel workers deliver the actions (console) and send receipts back.
        start_channel_workers(stack, env, channels, f"xo-demo-{int(now.timestamp())}", options)
        print(
            f"worker pid {worker.proc.pid if worker.proc else '?'} · metrics http://127.0.0.1:{worker.web_port}/metrics"
            f" · log {worker.log_path}"
        )
        watcher = TopicWatcher(bootstrap, outputs, options)
        stack.callback(watcher.close)
        # One key: the example file's records are routed in file order, so a customer
        # who shows up under several identifiers is linked before their later lines are routed (a
        # source keys its own records by one identifier; across sources OneID merges afterwards).
        sent = produce(bootstrap, topics.events, lines, options, key="examples")
        print(f"sent {sent} records from {events_path} to {topics.events}; waiting for actions …\n")
        ok = watcher.wait_for(
            lambda got: (
                expected_ids <= {str(r.value.get("action_id")) for r in got}
                and expected_ids <= _receipted(got)
                and len([r for r in got if r.topic == topics.dlq]) >= len(expected.rejected)
            ),
            timeout,
            on_record=_print_record,
            alive=worker.alive,
        )
        _keep_log(watcher, topics, settings.xo_data_dir / "demo-journey-log.jsonl")
        return _summary(_Run(ok, expected_ids, watcher, topics, worker, started))


def _receipted(got: list[Received]) -> set[str]:
    return {
        str(data.get("action_id"))
        for r in got
        if isinstance(data := r.value.get("data"), dict) and describe_receipt(r.value)
    }


def _print_record(record: Received) -> None:
    value = record.value
    if not record.topic.endswith((".dlq", ".scenarios")) and ".actions." not in record.topic:
        line = describe_receipt(value)  # receipts as the engine receives them, not the other inputs
        if line:
            print(line)
    elif record.topic.rsplit(".", 2)[-2] == "actions":
        content = value.get("content")
        text = content.get("text") if isinstance(content, dict) else content
        print(f"  → {value.get('channel'):<14} {value.get('customer_id'):<8} {text}")
    elif record.topic.endswith(".journey-log"):
        return  # kept for the report (see _keep_log), not printed
    elif record.topic.endswith(".dlq"):
        print(f"  ✗ DLQ  {value.get('reason')}  ({value.get('source')})")
    else:
        print(f"  ◆ {value.get('scenario')}  {value.get('customer_id')}  {value.get('occurrence')}")


def _keep_log(watcher: TopicWatcher, topics: Topics, path: Path) -> None:
    """The journey log of the run, for ``orchestrator report`` after the embedded servers are gone."""
    records = watcher.of(topics.journey_log)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r.value) + b"\n" for r in records))
    print(f"\njourney log: {len(records)} record(s) kept in {path}")
    print(f"  orchestrator report {path} --html journey-report.html   # funnels and A/B results of this run")


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError as exc:
        return f"(metrics unavailable: {exc})"


@dataclass(frozen=True)
class _Run:
    ok: bool
    expected: set[str]
    watcher: TopicWatcher
    topics: Topics
    worker: WorkerProcess
    started: float


def _summary(run: _Run) -> int:
    watcher, topics, expected = run.watcher, run.topics, run.expected
    metrics = _scrape(run.worker.web_port)
    actions = [r for r in watcher.received if ".actions." in r.topic]
    by_channel = Counter(str(r.value.get("channel")) for r in actions)
    got = {str(r.value.get("action_id")) for r in actions}
    print("\nsummary")
    print(
        f"  actions: {len(actions)} ({', '.join(f'{c} × {n}' for c, n in sorted(by_channel.items())) or 'none'});"
        f" expected by dry run: {len(expected)}; missing: {len(expected - got)}; unexpected: {len(got - expected)}"
    )
    print(f"  scenario hits: {len(watcher.of(topics.scenarios))} · dead letters: {len(watcher.of(topics.dlq))}")
    receipts = Counter(str(r.value.get("type")) for r in watcher.of(topics.events) if describe_receipt(r.value))
    print(f"  receipts: {sum(receipts.values())} ({', '.join(f'{t} × {n}' for t, n in sorted(receipts.items()))})")
    for line in metrics.splitlines():
        if line.startswith(
            (
                "xo_actions_total",
                "xo_events_rejected_total",
                "xo_step_errors_total",
                "xo_inputs_duplicate_total",
                "xo_event_to_action_seconds_count",
            )
        ):
            print(f"  {line}")
    good = run.ok and got == expected
    print(f"  {'OK' if good else 'FAILED'} in {time.monotonic() - run.started:.1f}s")
    if not good:
        print(run.worker.log_tail(), file=sys.stderr)
    return 0 if good else 1
