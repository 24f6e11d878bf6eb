"""The throughput issue's targets (2 cores, quiet machine) and whether a run met them."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    key: str  # where the figure sits in the results' "figures"
    label: str
    op: str  # ">=", "<=", "<"
    bound: float
    unit: str

    def verdict(self, value: float | None) -> str:
        if value is None:
            return "not measured"
        return "met" if _OPS[self.op](value, self.bound) else "not met"

    def shown(self) -> str:
        symbol = {">=": "≥", "<=": "≤", "<": "<"}[self.op]
        return f"{symbol} {self.bound:g}{self.unit}"


TARGETS = (
    Target("engine_over_faust", "engine / bare faust counter (events/s, same round)", ">=", 0.5, " ×"),
    Target("cpu_us_fresh", "engine CPU per input, fresh mix", "<=", 250, " µs"),
    Target("cpu_us_mature", "engine CPU per input, mature mix", "<=", 400, " µs"),
    Target("two_over_one", "two worker processes / one (inputs/s, same round)", ">=", 1.7, " ×"),
    Target("p99_ms_half", "p99 event → action at half capacity (engine's own)", "<", 50, " ms"),
    Target("redis_bytes_fresh", "Redis bytes per fresh customer (MEMORY USAGE)", "<=", 1536, " B"),
    Target("timers_per_s", "timers due at once, fired (timer index hand-over)", ">=", 10_000, "/s"),
)


def verdicts(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: the figure, the bound and met / not met / not measured."""
    return [
        {
            "key": t.key,
            "label": t.label,
            "value": figures.get(t.key),
            "target": t.shown(),
            "verdict": t.verdict(figures.get(t.key)),
        }
        for t in TARGETS
    ]
