"""``orchestrator worker`` with the time of each batch phase recorded, for the benchmark only.

    BENCH_TRACE_FILE=/tmp/trace.json python -m bench.perf.traced_worker

Wraps (at run time, in this process only) the handler's phases: ``RedisStore.load``,
``Handler._process``, ``RedisStore.commit``, ``KafkaPublisher.publish``, ``RedisStore.settle``,
the whole ``Handler.handle``, the identify stage's ``route`` and the timer pump; counts
Redis round trips on the client (pipelines executed, single commands); and measures the
lag of the event loop (how late a 10 ms sleep wakes up). Every second the totals are
written to ``BENCH_TRACE_FILE`` as JSON: per phase, calls, seconds and records (the size of
the batch argument). Each wrapper costs a few microseconds per batch; the engine's code is
not changed.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sized
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio.client import Pipeline, Redis

from orchestrator import faust_app
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.cli import main
from orchestrator.service.handler import Handler

STATS: dict[str, dict[str, float]] = defaultdict(lambda: {"calls": 0, "seconds": 0.0, "records": 0})
LAG: list[float] = []


def _note(name: str, started: float, args: tuple[Any, ...]) -> None:
    stat = STATS[name]
    stat["calls"] += 1
    stat["seconds"] += time.perf_counter() - started
    sized = next((a for a in args if isinstance(a, list | tuple | dict) and isinstance(a, Sized)), None)
    stat["records"] += len(sized) if sized is not None else 0


def _timed_async(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            _note(name, started, args[1:] if args and not isinstance(args[0], list) else args)

    return wrapper


def _timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            _note(name, started, args[1:])

    return wrapper


def install() -> None:
    Handler.handle = _timed_async("handle", Handler.handle)  # type: ignore[method-assign]
    Handler._process = _timed("process", Handler._process)  # type: ignore[method-assign]  # noqa: SLF001
    RedisStore.load = _timed_async("redis_load", RedisStore.load)  # type: ignore[method-assign]
    RedisStore.commit = _timed_async("redis_commit", RedisStore.commit)  # type: ignore[method-assign]
    RedisStore.settle = _timed_async("redis_settle", RedisStore.settle)  # type: ignore[method-assign]
    KafkaPublisher.publish = _timed_async("publish", KafkaPublisher.publish)  # type: ignore[method-assign]
    faust_app.route = _timed_async("identify", faust_app.route)  # type: ignore[attr-defined]
    faust_app.pump_once = _timed_async("timer_pump", faust_app.pump_once)  # type: ignore[attr-defined]
    Pipeline.execute = _timed_async("redis_pipeline", Pipeline.execute)  # type: ignore[method-assign]
    Redis.execute_command = _timed_async("redis_single_command", Redis.execute_command)  # type: ignore[method-assign]


def _dump(path: Path) -> None:
    while True:
        time.sleep(1.0)
        lag = sorted(LAG[-2000:])
        data = {
            "phases": dict(STATS),
            "loop_lag_ms": {
                "p50": lag[len(lag) // 2] * 1000 if lag else None,
                "p99": lag[int(len(lag) * 0.99)] * 1000 if lag else None,
            },
        }
        path.write_bytes(orjson.dumps(data))


async def _lag_probe() -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        LAG.append(time.perf_counter() - started - 0.01)
        del LAG[:-4000]


def _start_lag_probe() -> None:
    original = faust_app.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)

        @app.task  # type: ignore[untyped-decorator]
        async def lag() -> None:
            await _lag_probe()

        return app

    faust_app.create_app = create_app


if __name__ == "__main__":
    install()
    _start_lag_probe()
    threading.Thread(target=_dump, args=(Path(os.environ["BENCH_TRACE_FILE"]),), daemon=True).start()
    sys.exit(main(["worker"]))
