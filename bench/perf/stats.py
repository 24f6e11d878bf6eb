"""Rounds to figures: medians with their spread, and the window of a run from its samples.

Pure: no clock, no I/O, so the arithmetic is tested on its own (tests/bench).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# The processes a run accounts CPU to. "worker…" roles are summed into "worker" (two
# worker processes are one engine); "machine" is every process on the machine.
ROLES = ("worker", "broker", "redis", "bench")


@dataclass(frozen=True)
class Sample:
    t: float  # monotonic seconds
    counts: dict[str, float]
    cpu: dict[str, float]  # CPU seconds so far, by role ("machine": the whole machine's busy time)


def summary(values: Sequence[float | None]) -> dict[str, Any]:
    """Median, min, max and count of the values that were measured (None: not measured)."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(known), "min": min(known), "max": max(known), "n": len(known)}


def rotation(keys: Sequence[str], round_index: int) -> list[str]:
    """The variants' order in one round: rotated by one each round, so none always runs first or last."""
    if not keys:
        return []
    shift = round_index % len(keys)
    return [*keys[shift:], *keys[:shift]]


def _first(samples: Sequence[Sample], test: Callable[[Sample], bool]) -> Sample:
    for sample in samples:
        if test(sample):
            return sample
    raise ValueError("no sample satisfies the window's condition")


def role_seconds(cpu: dict[str, float]) -> dict[str, float]:
    """CPU seconds by role, the ``worker…`` entries summed into ``worker``."""
    merged: dict[str, float] = {}
    for name, seconds in cpu.items():
        role = "worker" if name.startswith("worker") else name
        merged[role] = merged.get(role, 0.0) + seconds
    return merged


@dataclass(frozen=True)
class Window:
    """One measured run between two samples: what was processed and the CPU each role used."""

    count: float  # inputs processed inside the window
    seconds: float
    cpu_s: dict[str, float]  # CPU seconds by role inside the window (and "others": the rest of the machine)

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def us_per_input(self, role: str) -> float | None:
        if self.count <= 0 or role not in self.cpu_s:
            return None
        return 1e6 * self.cpu_s[role] / self.count

    def cores(self, role: str) -> float | None:
        if self.seconds <= 0 or role not in self.cpu_s:
            return None
        return self.cpu_s[role] / self.seconds


def window(samples: Sequence[Sample], key: str, started: Callable[[Sample], bool] | None = None) -> Window:
    """From the last sample before the run had started (default: before ``key`` > 0) to the first
    that reached ``key``'s final value: start-up and the idle tail are outside the window.

    Counters move a batch at a time while CPU time moves continuously, so the window opens
    on the sample *before* the first progress: the first batch's CPU and its count are both
    inside (opening on the first progress would leave that batch's count out but part of
    its CPU in, or the other way round, by up to a batch at each end).
    """
    if not samples:
        raise ValueError("no samples")
    final = samples[-1].counts.get(key, 0.0)
    test = started or (lambda s: s.counts.get(key, 0.0) > 0)
    at = next((i for i, s in enumerate(samples) if test(s)), None)
    if at is None:
        raise ValueError("no sample satisfies the window's condition")
    start = samples[max(at - 1, 0)]
    end = _first(samples, lambda s: s.t >= start.t and s.counts.get(key, 0.0) >= final)
    a, b = role_seconds(start.cpu), role_seconds(end.cpu)
    cpu = {role: b[role] - a.get(role, 0.0) for role in b}
    if "machine" in cpu:
        ours = sum(v for k, v in cpu.items() if k != "machine")
        cpu["others"] = max(cpu.pop("machine") - ours, 0.0)
    return Window(count=end.counts.get(key, 0.0) - start.counts.get(key, 0.0), seconds=end.t - start.t, cpu_s=cpu)
