"""Liveness and readiness, framework-free: the web edge only turns a ``Report`` into HTTP.

* Liveness (``/healthz``): the process answers and its event loop is not stuck. ``LoopWatch``
  sleeps a short interval over and over and records how late it woke up; a loop blocked for
  longer than the limit (or a watch that stopped ticking) is not alive. A probe that cannot even
  connect (the loop is blocked right now) fails on its own timeout.
* Readiness (``/readyz``): every named check answers within its timeout: partitions assigned,
  Redis and Kafka reachable, configuration loaded. Each check returns a short detail or raises;
  the reasons go into the body, so an operator sees *why* a worker is not ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

Probe = Callable[[], Awaitable[str]]


class NotReady(Exception):
    """Raised by a check with the reason it is not ready."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def status(self) -> int:
        return 200 if self.ok else 503

    def body(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "fail",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


@dataclass
class LoopWatch:
    """How late the event loop runs a timer: the lag of the latest tick and the worst recent one."""

    monotonic: Callable[[], float]
    interval_s: float = 0.5
    max_lag_s: float = 10.0
    last_tick: float | None = None
    lag_s: float = 0.0
    _worst: list[float] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            before = self.monotonic()
            await asyncio.sleep(self.interval_s)
            now = self.monotonic()
            self.lag_s = max(0.0, now - before - self.interval_s)
            self._worst = [*self._worst[-59:], self.lag_s]
            self.last_tick = now

    def liveness(self) -> Report:
        if self.last_tick is None:
            return Report((Check("event_loop", True, "starting"),))
        since = self.monotonic() - self.last_tick
        worst = max(self._worst, default=0.0)
        if since > self.interval_s + self.max_lag_s:
            return Report((Check("event_loop", False, f"no tick for {since:.1f}s"),))
        if worst > self.max_lag_s:
            return Report((Check("event_loop", False, f"blocked for {worst:.1f}s recently"),))
        return Report((Check("event_loop", True, f"lag {self.lag_s * 1000:.0f}ms, worst {worst * 1000:.0f}ms"),))


async def readiness(probes: Mapping[str, Probe], timeout_s: float) -> Report:
    """Run every probe at once, each bounded by ``timeout_s``; a failure's reason is its detail."""
    results = await asyncio.gather(*(_run(name, probe, timeout_s) for name, probe in probes.items()))
    return Report(tuple(results))


async def _run(name: str, probe: Probe, timeout_s: float) -> Check:
    try:
        return Check(name, True, await asyncio.wait_for(probe(), timeout_s))
    except TimeoutError:
        return Check(name, False, f"no answer within {timeout_s:g}s")
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:300])
