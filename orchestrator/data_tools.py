"""Operator commands over stored customer data: backfill, replay, export, forget (erasure), retain."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.kafka_reader import read_topic
from orchestrator.adapters.redis_erasure import Erased, Held, RedisErasure, RedisStatePages
from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import kafka_client_options, load_world, redis_client
from orchestrator.core import World
from orchestrator.errors import StateConflict
from orchestrator.harness import TopicWatcher, produce
from orchestrator.service.backfill import History, fold_history, write_states
from orchestrator.service.replay import ReplayReport, ReplayRequest, replay
from orchestrator.service.retention import SweepRequest, Swept, sweep
from orchestrator.settings import Settings

FORGET_ATTEMPTS = 5
DLQ_SCAN_S = 120.0


@dataclass(frozen=True)
class BackfillRequest:
    files: list[Path]
    until: str | None
    dry_run: bool
    topic: str | None = None  # read the events of a topic instead of (or besides) files
    since: str | None = None  # with a topic: only events that happened at or after this time


def run_backfill(request: BackfillRequest, settings: Settings) -> int:
    until = _until(request.until)
    if isinstance(until, str):
        print(f"orchestrator backfill: {until}", file=sys.stderr)
        return 2
    if not request.dry_run and not settings.redis_url:
        print("orchestrator backfill: set REDIS_URL (or use --dry-run)", file=sys.stderr)
        return 2
    lines = _history(request, settings)
    if isinstance(lines, str):
        print(f"orchestrator backfill: {lines}", file=sys.stderr)
        return 2
    started = time.monotonic()
    history = fold_history(load_world(settings)[1], lines, until, _progress("folded", len(lines)))
    _report_history(history, request.files, time.monotonic() - started)
    if request.dry_run:
        print("dry run: nothing written")
        return 0
    return asyncio.run(_write(history, settings))


def _history(request: BackfillRequest, settings: Settings) -> list[bytes] | str:
    """Event lines from the files, then from the topic (events since ``--since``), or what is wrong."""
    lines: list[bytes] = []
    for path in request.files:
        try:
            lines += [line for line in path.read_bytes().splitlines() if line.strip()]
        except OSError as exc:
            return f"{path}: {exc.strerror}"
    if request.topic is None:
        return lines
    since = _until(request.since) if request.since else None
    if isinstance(since, str):
        return since.replace("--until", "--since")
    if not settings.kafka_bootstrap_servers:
        return "set KAFKA_BOOTSTRAP_SERVERS to read --topic"
    try:
        records = read_topic(settings.kafka_bootstrap_servers, request.topic, kafka_client_options(settings))
        return lines + [r for r in records if since is None or _happened_since(r, since)]
    except LookupError as exc:
        return str(exc)


def _happened_since(raw: bytes, since: datetime) -> bool:
    """Whether a record's event time is at or after ``since``; records that do not parse are kept
    (the fold rejects them with their reason)."""
    try:
        moment = datetime.fromisoformat(orjson.loads(raw)["time"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return True
    return moment.tzinfo is None or moment >= since


def _until(text: str | None) -> datetime | str:
    if text is None:
        return datetime.now(UTC)  # live traffic takes over now: detector timers due before it fire here
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return f"--until {text!r} is not an ISO time"
    return moment if moment.tzinfo else "--until needs a time zone, e.g. 2026-12-01T00:00:00+08:00"


def _report_history(history: History, files: list[Path], seconds: float) -> None:
    for number, reason in history.rejected:
        print(f"rejected line {number}: {reason}", file=sys.stderr)
    rate = history.events / seconds if seconds > 0 else 0.0
    print(
        f"folded {history.events} event(s) of {len(history.states)} customer(s) from {len(files)} file(s) "
        f"in {seconds:.1f}s ({rate:,.0f} events/s); {len(history.rejected)} rejected"
    )
    sends = sum(history.would_send.values())
    print(f"journeys would have sent {sends} action(s) on this history; none was sent")
    for (journey, channel), count in sorted(history.would_send.items()):
        print(f"  {journey:<24} {channel:<16} {count}")


async def _write(history: History, settings: Settings) -> int:
    client = redis_client(settings)
    try:
        store = RedisStore(client, prefix=settings.xo_topic_prefix, packed=settings.xo_pack_states)
        partitions = settings.xo_partitions
        written = await write_states(
            store,
            history.states,
            lambda cid: partition_for(cid, partitions),
            _progress("written", len(history.states)),
        )
    finally:
        await client.aclose()
    print(
        f"wrote {written.written} state(s), indexed {written.timers} detector timer(s); "
        f"{len(written.present)} customer(s) already had a state and were left alone"
    )
    return 0


def _progress(what: str, total: int) -> Callable[[int, int], None] | None:
    def show(done: int, of: int) -> None:
        if done == of or done % 5000 == 0:
            print(f"\rbackfill: {what} {done}/{of}", end="\n" if done == of else "", file=sys.stderr, flush=True)

    return show if sys.stderr.isatty() and total > 5000 else None


@dataclass(frozen=True)
class PersonRequest:
    who: str  # a customer id or any identifier as <type>:<value>
    out: Path | None = None
    keep_days: int = 30
    scan_dlq: bool = True


def run_export(request: PersonRequest, settings: Settings) -> int:
    if not settings.redis_url:
        print("orchestrator export: set REDIS_URL", file=sys.stderr)
        return 2
    held, identifiers = asyncio.run(_read_person(request.who, settings))
    letters = _dead_letters(settings, [held.customer_id, *identifiers]) if request.scan_dlq else None
    if settings.kafka_bootstrap_servers and held.state is not None:
        _audit(settings, "export", held.customer_id, datetime.now(UTC), identifiers)
    body = {**held.as_json(), "identifiers": identifiers, "dead_letters": letters}
    text = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if request.out:
        request.out.write_text(text, encoding="utf-8")
        print(f"exported {held.customer_id} to {request.out}")
    else:
        sys.stdout.write(text)
    return 0 if held.state is not None else 1


def run_forget(request: PersonRequest, settings: Settings) -> int:
    if not settings.redis_url:
        print("orchestrator forget: set REDIS_URL", file=sys.stderr)
        return 2
    at = datetime.now(UTC)
    erased, identifiers, dropped = asyncio.run(_forget(request, settings, at))
    if erased is None:
        print(f"orchestrator forget: nothing stored for {request.who}", file=sys.stderr)
        return 1
    print(
        f"forgot {erased.customer_id}: state replaced by a tombstone (kept {request.keep_days} d, drops events "
        f"from before {at.isoformat(timespec='seconds')}), {erased.outbox_entries} outbox entr(ies), "
        f"{erased.timer_entries} timer index entr(ies), {dropped} identity key(s) removed"
    )
    if settings.kafka_bootstrap_servers:
        topic = _audit(settings, "forget", erased.customer_id, at, identifiers)
        print(f"published the erasure to {topic} for downstream consumers")
        letters = _dead_letters(settings, [erased.customer_id, *identifiers]) if request.scan_dlq else []
        for letter in letters or []:
            print(f"  dead letter holding their data: {letter}")
        if letters:
            print(f"{len(letters)} dead letter(s) hold their data until the DLQ topic's retention removes them")
    return 0


def _audit(settings: Settings, action: str, cid: str, at: datetime, identifiers: list[str]) -> str:
    """One record per export or erasure on ``<prefix>.privacy``, keyed by the customer."""
    bootstrap, options = settings.kafka_bootstrap_servers or "", kafka_client_options(settings)
    topic = f"{settings.xo_topic_prefix}.privacy"
    ensure_topics(bootstrap, {topic: settings.xo_partitions}, options)
    record = {"action": action, "customer_id": cid, "at": at.isoformat(), "identifiers": identifiers}
    produce(bootstrap, topic, [orjson.dumps(record)], options, key=cid)
    return topic


async def _read_person(who: str, settings: Settings) -> tuple[Held, list[str]]:
    client = redis_client(settings)
    try:
        store = RedisStore(client, prefix=settings.xo_topic_prefix, packed=settings.xo_pack_states)
        cid = (await RedisIdentityGraph(client, settings.xo_topic_prefix).resolve([who])).get(who, who)
        held = await RedisErasure(client, store).read(cid)
        return held, _identifiers(held)
    finally:
        await client.aclose()


async def _forget(request: PersonRequest, settings: Settings, at: datetime) -> tuple[Erased | None, list[str], int]:
    client = redis_client(settings)
    try:
        store = RedisStore(client, prefix=settings.xo_topic_prefix, packed=settings.xo_pack_states)
        graph = RedisIdentityGraph(client, settings.xo_topic_prefix)
        erasure = RedisErasure(client, store)
        cid = (await graph.resolve([request.who])).get(request.who, request.who)
        for _ in range(FORGET_ATTEMPTS):  # the person's live events may commit meanwhile: read again
            held = await erasure.read(cid)
            if held.state is None or (held.state.forgotten_at is not None and not held.outbox):
                return None, [], 0
            identifiers = _identifiers(held)
            try:
                erased = await erasure.erase(
                    held, partition_for(cid, settings.xo_partitions), at, request.keep_days * 86_400
                )
            except StateConflict:
                continue
            owned = await graph.resolve(identifiers)
            mine = [(key, owner) for key, owner in owned.items() if owner == cid]
            await graph.drop(mine)
            return erased, identifiers, len(mine)
        raise StateConflict(f"state of {cid} kept changing; try again")
    finally:
        await client.aclose()


def _identifiers(held: Held) -> list[str]:
    """The graph keys the customer owns, and those its profile names (claimed or not)."""
    if held.state is None:
        return []
    named = {f"{kind}:{value}" for kind, value in held.state.profile.identity.items()}
    return sorted(named | set(held.state.identifiers))


def _dead_letters(settings: Settings, needles: list[str]) -> list[str] | None:
    """Where in the DLQ the person's ids appear (``topic[partition]@offset``); None without Kafka."""
    if not settings.kafka_bootstrap_servers:
        return None
    values = [n.split(":", 1)[-1] for n in needles]
    watcher = TopicWatcher(
        settings.kafka_bootstrap_servers, [f"{settings.xo_topic_prefix}.events.dlq"], kafka_client_options(settings)
    )
    found: list[str] = []
    try:
        quiet = 0
        deadline = time.monotonic() + DLQ_SCAN_S
        while quiet < 3 and time.monotonic() < deadline:  # until the topic has nothing more to give
            batch = watcher.poll()
            quiet = 0 if batch else quiet + 1
            for letter in batch:
                text = json.dumps(letter.value, ensure_ascii=False)
                if any(v in text for v in values):
                    found.append(f"{letter.value.get('source')} (reason: {letter.value.get('reason')})")
    finally:
        watcher.close()
    return found


@dataclass(frozen=True)
class RetainRequest:
    inactive_days: int
    per_second: float
    dry_run: bool
    resume: bool


def run_retain(request: RetainRequest, settings: Settings) -> int:
    if not settings.redis_url:
        print("orchestrator retain: set REDIS_URL", file=sys.stderr)
        return 2
    swept = asyncio.run(_retain(request, settings))
    saved = swept.bytes_before - swept.bytes_after
    verb = "would reduce" if request.dry_run else "reduced"
    print(
        f"looked at {swept.seen} customer(s); {verb} {swept.reduced} inactive for over {request.inactive_days} days "
        f"to their minimal state ({swept.bytes_before:,} → {swept.bytes_after:,} bytes of state, {saved:,} saved); "
        f"{swept.raced} became active meanwhile and were left alone"
    )
    return 0


async def _retain(request: RetainRequest, settings: Settings) -> Swept:
    client = redis_client(settings)
    cursor_key = f"{settings.xo_topic_prefix}:retention:cursor"
    try:
        store = RedisStore(client, prefix=settings.xo_topic_prefix, packed=settings.xo_pack_states)
        start = int(await client.get(cursor_key) or 0) if request.resume else 0

        async def progress(swept: Swept) -> None:
            if not request.dry_run:
                await client.set(cursor_key, swept.cursor)
            if sys.stderr.isatty():
                print(f"\rretain: {swept.seen} looked at, {swept.reduced} reduced", end="", file=sys.stderr)

        sweep_request = SweepRequest(
            now=datetime.now(UTC),
            inactive_after=timedelta(days=request.inactive_days),
            per_second=request.per_second,
            dry_run=request.dry_run,
            cursor=start,
        )
        partitions = settings.xo_partitions
        return await sweep(
            RedisStatePages(client, store), store, lambda cid: partition_for(cid, partitions), sweep_request, progress
        )
    finally:
        await client.aclose()


def run_replay(apply: bool, settings: Settings) -> int:
    if not settings.redis_url:
        print("orchestrator replay: set REDIS_URL", file=sys.stderr)
        return 2
    world = load_world(settings)[1]
    report = asyncio.run(_replay(world, apply, settings))
    verb = "changed" if apply else "would change"
    print(f"looked at {report.seen} customer(s); the detectors as configured now {verb} {report.changed}")
    for transition, count in sorted(report.transitions.items()):
        print(f"  {transition:<40} {count}")
    print(f"  churn risk moved by 0.05 or more         {report.risk_moved}")
    print(f"  detector timers set / cancelled          {report.timers_set} / {report.timers_cancelled}")
    if apply:
        print(f"wrote {report.written}; {report.raced} changed meanwhile and keep their state (judged anew next input)")
    else:
        print("dry run: nothing written (--apply writes; no journey is entered and nothing is sent either way)")
    return 0


async def _replay(world: World, apply: bool, settings: Settings) -> ReplayReport:
    client = redis_client(settings)
    try:
        store = RedisStore(client, prefix=settings.xo_topic_prefix, packed=settings.xo_pack_states)
        partitions = settings.xo_partitions
        request = ReplayRequest(now=datetime.now(UTC), apply=apply)
        return await replay(
            RedisStatePages(client, store), store, world, lambda cid: partition_for(cid, partitions), request
        )
    finally:
        await client.aclose()
