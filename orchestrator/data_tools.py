"""Operator commands over stored customer data: backfill (more to come: export, forget)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.service.backfill import History, fold_history, write_states
from orchestrator.settings import Settings


@dataclass(frozen=True)
class BackfillRequest:
    files: list[Path]
    until: str | None
    dry_run: bool


def run_backfill(request: BackfillRequest, settings: Settings) -> int:
    until = _until(request.until)
    if isinstance(until, str):
        print(f"orchestrator backfill: {until}", file=sys.stderr)
        return 2
    if not request.dry_run and not settings.redis_url:
        print("orchestrator backfill: set REDIS_URL (or use --dry-run)", file=sys.stderr)
        return 2
    lines: list[bytes] = []
    for path in request.files:
        try:
            lines += [line for line in path.read_bytes().splitlines() if line.strip()]
        except OSError as exc:
            print(f"orchestrator backfill: {path}: {exc.strerror}", file=sys.stderr)
            return 2
    started = time.monotonic()
    history = fold_history(load_world(settings)[1], lines, until, _progress("folded", len(lines)))
    _report_history(history, request.files, time.monotonic() - started)
    if request.dry_run:
        print("dry run: nothing written")
        return 0
    return asyncio.run(_write(history, settings))


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
    client = Redis.from_url(settings.redis_url or "", socket_timeout=10, socket_connect_timeout=5)
    try:
        store = RedisStore(client, prefix=settings.xo_topic_prefix)
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
