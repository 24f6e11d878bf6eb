"""Figures of the whole customer base: running medians and quantiles, as an immutable value.

A detector that knows too little about one customer borrows from everybody: the median
days between orders in a category, or where a customer's spend ranks. ``process`` cannot
see other customers, so it reports what changed as ``Observation`` values (an interval
seen, a customer's total moving from one value to another) and the shell folds them into
the ``Population`` the next inputs see (``observe``). Values are kept in log buckets 2 %
wide, so memory stays bounded (a few hundred counts per figure) and removing a value is as
cheap as adding one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

_STEP = math.log(1.02)

INTERVAL = "interval:"  # + category, or "*" for all orders
FREQUENCY = "frequency"
MONETARY = "monetary"


class Observation(BaseModel):
    """One value of a population figure seen (weight 1) or withdrawn (weight -1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    value: float
    weight: int = 1


_MAX_VALUE = 1e15  # figures are clamped here: an infinite or NaN value cannot raise OverflowError


def _bucket(value: float) -> int:
    clamped = min(value, _MAX_VALUE) if value > 0 else 0.0  # NaN compares false: bucket 0
    return int(math.log1p(clamped) / _STEP)


def _value(bucket: int) -> float:
    return math.expm1((bucket + 0.5) * _STEP)


@dataclass(frozen=True)
class Sketch:
    counts: Mapping[int, int] = field(default_factory=dict)
    total: int = 0
    # q → quantile, worked out once per sketch (a value: ``add`` makes a new one); read for every input.
    _quantiles: dict[float, float | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def add(self, value: float, weight: int = 1) -> Sketch:
        return self.add_all([(value, weight)])

    def add_all(self, values: Iterable[tuple[float, int]]) -> Sketch:
        """Each (value, weight) added in turn, as ``add`` after ``add`` would."""
        counts, total = dict(self.counts), self.total
        for value, weight in values:
            bucket = _bucket(value)
            count = counts.get(bucket, 0) + weight
            if count > 0:
                counts[bucket] = count
            else:
                counts.pop(bucket, None)
            total = max(0, total + weight)
        return Sketch(counts, total)

    def quantile(self, q: float) -> float | None:
        if q not in self._quantiles:
            self._quantiles[q] = self._quantile(q)
        return self._quantiles[q]

    def _quantile(self, q: float) -> float | None:
        if self.total <= 0:
            return None
        rank = q * self.total
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return round(_value(bucket), 2)
        return round(_value(max(self.counts)), 2)


@dataclass(frozen=True)
class Population:
    sketches: Mapping[str, Sketch] = field(default_factory=dict)

    def observe(self, observations: Iterable[Observation]) -> Population:
        """The population with ``observations`` folded in, in order (each key's counts copied once)."""
        by_key: dict[str, list[tuple[float, int]]] = {}
        for obs in observations:
            by_key.setdefault(obs.key, []).append((obs.value, obs.weight))
        sketches = dict(self.sketches)
        for key, values in by_key.items():
            sketches[key] = sketches.get(key, Sketch()).add_all(values)
        return Population(sketches)

    def count(self, key: str) -> int:
        sketch = self.sketches.get(key)
        return sketch.total if sketch else 0

    def quantile(self, key: str, q: float, min_count: int) -> float | None:
        """The q-quantile of ``key``, or None until ``min_count`` values were seen."""
        sketch = self.sketches.get(key)
        if sketch is None or sketch.total < min_count:
            return None
        return sketch.quantile(q)

    def median(self, key: str, min_count: int) -> float | None:
        return self.quantile(key, 0.5, min_count)
