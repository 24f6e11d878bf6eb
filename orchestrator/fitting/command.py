"""``orchestrator fit EVENTS --until DAY --out journeys/figures.yaml``: refit the shared figures.

Reads the paid orders of an events file (``fitting.history``), fits on those before
``--until`` only (``fitting.churn``, ``fitting.cycles``) and writes the versioned figures
file every worker and ``simulate`` read (docs/decisions.md §6), then loads it back through
the same checks a worker runs. A new file goes live when workers restart with it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import yaml

from orchestrator.config.catalog import load_figures
from orchestrator.core.figures import FIGURES_VERSION, Figures, StageCuts
from orchestrator.errors import InputError
from orchestrator.fitting.churn import backtest_rows, fit_bgnbd, fit_churn, fit_stages
from orchestrator.fitting.cycles import CycleModel, fit_intervals, fit_min_chance
from orchestrator.fitting.history import History, read_orders


@dataclass(frozen=True)
class FitOptions:
    until: date
    horizon_days: float = 90
    window_days: float = 30
    lead_days: float = 3
    origins: int = 5


def fit(history: History, options: FitOptions, source: str, fitted_at: datetime) -> Figures:
    until = datetime.combine(options.until, time(0), UTC)
    bgnbd = fit_bgnbd(history, until)
    rows = backtest_rows(history, until, options.horizon_days, options.origins)
    churn = fit_churn(rows, bgnbd, options.horizon_days)
    customers = sum(1 for orders in history.values() if orders and orders[0].time < until)
    intervals = fit_intervals(history, until, options.window_days)
    for category, interval in list(intervals.items()):
        gate = fit_min_chance(history, until, category, CycleModel(interval, bgnbd, options.lead_days))
        intervals[category] = interval.model_copy(update={"min_chance": gate})
    figures = Figures(
        version=FIGURES_VERSION,
        fitted_at=fitted_at,
        calibration_end=options.until,
        source=source,
        customers=customers,
        bgnbd=bgnbd,
        churn=churn,
        stages=StageCuts(dormant_at=0.5, churned_at=0.75),  # replaced below: the cuts need the churn model
        intervals=intervals,
    )
    return figures.model_copy(update={"stages": fit_stages(rows, figures)})


def write_figures(figures: Figures, path: Path) -> None:
    header = "# Fitted by `orchestrator fit`: do not edit by hand, refit (docs/decisions.md §6, core/figures.py).\n"
    body = yaml.safe_dump(figures.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    path.write_text(header + body, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    options = FitOptions(until=args.until, horizon_days=args.horizon_days, lead_days=args.lead_days)
    try:
        figures = fit(read_orders(args.events), options, args.events.name, datetime.now(tz=UTC))
    except (OSError, InputError, ValueError) as exc:
        print(f"orchestrator fit: {exc}", file=sys.stderr)
        return 1
    write_figures(figures, args.out)
    load_figures(args.out)  # what a worker will read: the same checks
    cuts = figures.stages
    print(
        f"{args.out}: {figures.customers:,} customers before {options.until}; "
        f"dormant at churn risk {cuts.dormant_at:g}, churned at {cuts.churned_at:g}; "
        f"intervals for {', '.join(figures.intervals) or 'no category'}"
    )
    return 0
