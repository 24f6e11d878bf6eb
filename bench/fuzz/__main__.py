"""The fuzz campaign: hypothesis-generated hostile items against one live worker.

    .venv/bin/python -m bench.fuzz [--rounds 25] [--items 30] [--timeout 90]

Starts an embedded Kafka (Tansu) and Redis (unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are
set) and one worker on the journey in ``bench/fuzz/journeys``. Each round produces a batch
of items (``bench/fuzz/strategies.py``) and then checks that:

- the worker is alive and logged nothing CRITICAL;
- every bad item's key has a dead letter with a non-empty reason, and no valid item's key has one;
- every valid customer got its first message, with its name as literal text (control
  characters stripped);
- no stored state exceeds ``STATE_BUDGET_BYTES``; no stored state fails to load besides the
  ones the campaign broke on purpose;
- the events metric has no more ``type`` labels than the documented types plus ``other``.

Prints the figures at the end; exit status 1 on the first failed check.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from redis import Redis

from bench.fuzz.strategies import MEMBER, Item, items
from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.core.events import KNOWN_EVENT_TYPES
from orchestrator.core.packing import PackingError, unpack
from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis
from orchestrator.harness import Received, TopicWatcher, WorkerProcess
from orchestrator.service.quarantine import diagnose
from orchestrator.service.topics import Topics
from orchestrator.templating import clean_text

HERE = Path(__file__).resolve().parent
STATE_BUDGET_BYTES = 256 * 1024
PARTITIONS = 2
FIRST = "{name}，您的乳清蛋白粉 900g快用完了。"  # bench/fuzz/templates/fuzz/first.j2


@dataclass
class Figures:
    rounds: int = 0
    items: Counter[str] = field(default_factory=Counter)
    records: int = 0
    letters: Counter[str] = field(default_factory=Counter)  # by the reason's first words
    actions: int = 0
    largest_state: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass
class Live:
    topics: Topics
    worker: WorkerProcess
    watcher: TopicWatcher
    producer: KafkaProducer
    redis: Redis
    figures: Figures
    timeout: float
    keys: Counter[str] = field(default_factory=Counter)
    broken: set[str] = field(default_factory=set)


class CampaignFailure(Exception):
    """A check of the campaign did not hold."""


def _check(holds: bool, message: object) -> None:
    if not holds:
        raise CampaignFailure(str(message)[:4000])


def _reason_class(reason: str) -> str:
    """The kind of a reason: its head, numbers blanked (``record of N bytes exceeds N``)."""
    return re.sub(r"\d+", "N", " ".join(reason.split(":", maxsplit=1)[0].split()[:6]))


def _letters(received: list[Received], dlq: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for record in received:
        if record.topic == dlq:
            out.setdefault(record.key or "", []).append(str(record.value.get("reason", "")))
    return out


def _texts(received: list[Received]) -> dict[str, str]:
    return {
        str(r.value["customer_id"]): str(r.value["content"]["text"])  # type: ignore[index]
        for r in received
        if ".actions." in r.topic
    }


def _send(live: Live, batch: list[Item]) -> dict[str, Item]:
    keyed = {}
    for item in batch:
        live.keys["n"] += 1
        key = f"f{live.keys['n']}-{uuid.uuid4().hex[:6]}"
        keyed[key] = item
        if item.broken_state:
            live.redis.hset(f"{live.topics.prefix}:{{{key}}}:state", mapping={"v": "1", "s": b'{"schema_version": 2}'})
            live.broken.add(key)
        for record in item.records:
            value = None if record is None else record.replace(MEMBER.encode(), key.encode())
            live.producer.send(live.topics.events, key=key.encode(), value=value)
            live.figures.records += 1
        live.figures.items[item.expect] += 1
    live.producer.flush()
    return keyed


def _check_round(live: Live, keyed: dict[str, Item]) -> None:
    dead = {k for k, i in keyed.items() if i.expect == "dead"}
    acting = {k: i.name for k, i in keyed.items() if i.expect == "act"}
    dlq = live.topics.dlq

    def arrived(got: list[Received]) -> bool:
        return dead <= _letters(got, dlq).keys() and acting.keys() <= _texts(got).keys()

    ok = live.watcher.wait_for(arrived, live.timeout, alive=live.worker.alive)
    letters, texts = _letters(live.watcher.received, dlq), _texts(live.watcher.received)
    missing = [keyed[k].what for k in dead - letters.keys()] + [keyed[k].what for k in acting.keys() - texts.keys()]
    _check(ok, f"missing: {missing[:5]}; alive={live.worker.alive()}\n{live.worker.log_tail(3000)}")
    time.sleep(1.0)  # a quiet item's stray letter would land by now; it is not waited for, only looked for
    live.watcher.poll()
    letters = _letters(live.watcher.received, dlq)
    for key in dead:
        _check(all(reason.strip() for reason in letters[key]), (keyed[key].what, letters[key]))
    wrong = {keyed[k].what: letters[k] for k in keyed if keyed[k].expect != "dead" and k in letters}
    _check(not wrong, f"valid items dead-lettered: {wrong}")
    for key, name in acting.items():
        expected = clean_text(FIRST.format(name=name or "您好")).strip()
        _check(texts[key] == expected, (keyed[key].what, texts[key], expected))
    _check(live.worker.alive(), live.worker.log_tail(3000))
    _check("CRITICAL" not in live.worker.log_path.read_text(errors="replace"), "CRITICAL in the worker log")
    live.figures.letters.update(_reason_class(r) for key in keyed for r in letters.get(key, []))
    live.figures.actions += len(acting)


def _check_states(live: Live) -> None:
    for key in live.redis.scan_iter(match=f"{live.topics.prefix}:{{*}}:state", count=1000):
        raw = cast(bytes, live.redis.hget(key, "s") or b"")
        cid = key.decode().split("{", 1)[1].rsplit("}", 1)[0]
        size = _json_size(raw)  # the budget is the state's JSON, packed or not
        live.figures.largest_state = max(live.figures.largest_state, size)
        _check(size <= STATE_BUDGET_BYTES, (cid, size))
        _check(cid in live.broken or diagnose(raw) is None, (cid, diagnose(raw)))
    types = {k for k in live.worker.metrics() if k.startswith("xo_events_total{")}
    _check(len(types) <= len(KNOWN_EVENT_TYPES) + 1, sorted(types))


def _json_size(raw: bytes) -> int:
    try:
        return len(unpack(raw))
    except PackingError:  # diagnose reports it
        return len(raw)


def _campaign(live: Live, rounds: int, size: int) -> None:
    @settings(
        max_examples=rounds,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: each example waits on a live worker
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(items, min_size=size, max_size=size))
    def one_round(batch: list[Item]) -> None:
        keyed = _send(live, batch)
        _check_round(live, keyed)
        _check_states(live)
        live.figures.rounds += 1
        print(f"round {live.figures.rounds}: {dict(live.figures.items)} ok", flush=True)

    one_round()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--items", type=int, default=30, help="items per round")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for one round's outcomes")
    args = parser.parse_args(argv)
    figures = Figures()
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(EmbeddedKafka()).bootstrap
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(EmbeddedRedis()).url
        live = _live(stack, bootstrap, redis_url, figures, args.timeout)
        try:
            _campaign(live, args.rounds, args.items)
        except CampaignFailure as exc:
            print(f"FAILED after {figures.rounds} round(s): {exc}", file=sys.stderr)
            return 1
    _report(figures)
    return 0


def _live(stack: ExitStack, bootstrap: str, redis_url: str, figures: Figures, timeout: float) -> Live:
    prefix = f"fz{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    outputs = [topics.actions("wecom_private"), topics.scenarios, topics.dlq]
    ensure_topics(bootstrap, dict.fromkeys([topics.events, topics.by_customer, *outputs], PARTITIONS), {})
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xo-fuzz-")))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": prefix,
        "XO_PARTITIONS": str(PARTITIONS),
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": str(data_dir),
        "XO_JOURNEYS_DIR": str(HERE / "journeys"),
        "XO_TEMPLATES_DIR": str(HERE / "templates"),
        "XO_CONTACT_POLICY": "off",
    }
    worker = WorkerProcess(env).start()
    stack.callback(worker.stop)
    watcher = TopicWatcher(bootstrap, outputs, {})
    stack.callback(watcher.close)
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=4_000_000, linger_ms=5)
    stack.callback(producer.close)
    client = Redis.from_url(redis_url)
    stack.callback(client.close)
    return Live(topics, worker, watcher, producer, client, figures, timeout)


def _report(figures: Figures) -> None:
    elapsed = time.monotonic() - figures.started
    print("\nfuzz campaign: every check held")
    print(f"  rounds {figures.rounds}, items {sum(figures.items.values())} {dict(figures.items)}")
    print(f"  records sent {figures.records} in {elapsed:.0f}s")
    print(f"  actions checked {figures.actions}; largest stored state {figures.largest_state} bytes of JSON")
    print(f"  (budget {STATE_BUDGET_BYTES}); dead letters by reason:")
    for reason, count in figures.letters.most_common():
        print(f"    {count:6d}  {reason}")


if __name__ == "__main__":
    sys.exit(main())
