"""Liveness from the event loop's lag, readiness from named probes with their reasons."""

from __future__ import annotations

import asyncio
import time

from orchestrator.service.health import LoopWatch, NotReady, readiness


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_loop_that_stopped_ticking_is_not_alive() -> None:
    clock = FakeClock()
    watch = LoopWatch(clock, interval_s=0.5, max_lag_s=10.0)
    assert watch.liveness().ok  # starting
    watch.last_tick = clock.t
    clock.t += 5
    assert watch.liveness().ok
    clock.t += 6
    report = watch.liveness()
    assert not report.ok
    assert report.status == 503
    assert "no tick for 11.0s" in str(report.body())


async def test_the_watch_measures_a_blocked_loop() -> None:
    # Bounds far apart, so that a loaded machine's ordinary lag (0.2 s seen) never reads as blocked.
    watch = LoopWatch(asyncio.get_running_loop().time, interval_s=0.01, max_lag_s=0.5)
    task = asyncio.create_task(watch.run())
    try:
        while watch.last_tick is None:
            await asyncio.sleep(0.01)
        assert watch.liveness().ok
        ticks = watch.last_tick
        time.sleep(1.0)  # blocking the loop on purpose: the thing measured
        while watch.last_tick == ticks:
            await asyncio.sleep(0.01)
        report = watch.liveness()
        assert not report.ok
        assert "blocked for" in str(report.body())
    finally:
        task.cancel()


async def test_readiness_reports_every_reason() -> None:
    async def fine() -> str:
        return "PONG"

    async def down() -> str:
        raise ConnectionError("refused")

    async def spare() -> str:
        raise NotReady("no partitions assigned")

    async def hung() -> str:
        await asyncio.sleep(10)
        return "never"

    report = await readiness({"redis": fine, "kafka": down, "partitions": spare, "slow": hung}, timeout_s=0.05)
    assert report.status == 503
    assert report.body() == {
        "status": "fail",
        "checks": {
            "redis": {"ok": True, "detail": "PONG"},
            "kafka": {"ok": False, "detail": "ConnectionError: refused"},
            "partitions": {"ok": False, "detail": "NotReady: no partitions assigned"},
            "slow": {"ok": False, "detail": "no answer within 0.05s"},
        },
    }
    assert (await readiness({"redis": fine}, 1.0)).status == 200
