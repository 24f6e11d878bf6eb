"""Fitted figures: population parameters the predictive detectors read, fitted offline.

Produced by ``orchestrator fit`` from an events file up to a calibration date and kept in
a versioned file (``journeys/figures.yaml``) that every worker and ``simulate`` read
(docs/decisions.md §6): a worker never folds them live, so a customer's churn risk,
stage and cycle timing do not depend on which worker owns them.

* ``bgnbd``: BG/NBD population parameters (Fader, Hardie & Lee 2005), in days;
* ``churn``: a logistic model over the customer's BG/NBD chance of no purchase within
  the horizon and their recency, age, frequency and mean order amount, fitted on
  back-tests inside the calibration period, so that the risk is calibrated;
* ``stages``: the churn-risk cuts where a customer becomes dormant and churned, chosen
  on those back-tests (not fixed factors of the rhythm);
* ``intervals``: per category (or ``*``), a log-normal model of the days between buying
  moments, with customers' own means drawn around the population's; the cycle hit is
  raised at the customer's predicted median, when the chance of a purchase in the
  following ``window_days`` is at least ``min_chance``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

FIGURES_VERSION = 1
Chance = Annotated[float, Field(gt=0, lt=1)]
CHURN_FEATURES = (
    "intercept",
    "logit_bgnbd",  # log odds of BG/NBD's chance of no purchase within the horizon
    "log_repeat",  # log(1 + repeat buying moments)
    "log_recency",  # log(1 + days since the last buying moment)
    "log_age",  # log(1 + days since the first buying moment)
    "log_amount",  # log(1 + mean paid order amount)
)


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BgNbd(_Spec):
    """Purchase rate while alive ~ gamma(r, alpha_days); dropping out after a purchase ~ beta(a, b)."""

    r: PositiveFloat
    alpha_days: PositiveFloat
    a: PositiveFloat
    b: PositiveFloat


class ChurnFit(_Spec):
    horizon_days: PositiveFloat = 90
    _vector: tuple[float, ...] = PrivateAttr(default=())
    weights: dict[str, float] = Field(description="one per feature: " + ", ".join(CHURN_FEATURES))

    @model_validator(mode="after")
    def _every_weight(self) -> Self:
        missing = [f for f in CHURN_FEATURES if f not in self.weights]
        unknown = sorted(set(self.weights) - set(CHURN_FEATURES))
        if missing or unknown:
            raise ValueError(f"weights: missing {', '.join(missing) or 'none'}; unknown {', '.join(unknown) or 'none'}")
        return self

    def model_post_init(self, context: object, /) -> None:
        self._vector = tuple(self.weights.get(f, 0.0) for f in CHURN_FEATURES)  # read per event: built once

    def vector(self) -> tuple[float, ...]:
        return self._vector


class StageCuts(_Spec):
    """Churn risk at and above which a customer is dormant, and churned."""

    dormant_at: Chance
    churned_at: Chance

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.churned_at <= self.dormant_at:
            raise ValueError("churned_at must be above dormant_at")
        return self


class IntervalFit(_Spec):
    """log(days between buying moments) = the customer's mean + noise of ``within_var``;
    customers' means ~ N(mean_log, between_var)."""

    mean_log: float
    between_var: PositiveFloat
    within_var: PositiveFloat
    customers: PositiveInt = Field(description="customers with an interval behind the fit")
    window_days: PositiveFloat = 30
    min_chance: Annotated[float, Field(ge=0, lt=1)] = 0.0


class Figures(_Spec):
    version: int = Field(description="format of this file")
    fitted_at: datetime
    calibration_end: date = Field(description="the fit saw events before this day only")
    source: str = Field(min_length=1, description="the events file the figures were fitted from")
    customers: PositiveInt
    bgnbd: BgNbd
    churn: ChurnFit
    stages: StageCuts
    intervals: dict[Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9_]*)$")], IntervalFit] = Field(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version != FIGURES_VERSION:
            raise ValueError(
                f"format {version} is not the one this engine reads ({FIGURES_VERSION}): refit with `orchestrator fit`"
            )
        return version

    def interval(self, category: str) -> IntervalFit | None:
        return self.intervals.get(category) or self.intervals.get("*")
