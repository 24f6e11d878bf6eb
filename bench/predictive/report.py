"""Do lifecycle stages, churn risk and cycle-ending hits predict later purchases? CDNOW, replayed.

    .venv/bin/python -m bench.predictive.report [--calibration 1997-09-30] [--lead-days 7] [--out FILE]

The purchases before the calibration date are written as events and fitted by the code of
``orchestrator fit`` (nothing after that date is seen); the figures file is loaded back
through a worker's checks. Then the whole history (69,659 purchases, 23,570 customers,
Jan 1997 - Jun 1998) goes through ``core.process`` with those figures. At the calibration
date every customer's stage, churn risk and tier are judged as of that date; the purchases
after it say who came back. Each figure is printed beside its baselines: recency alone,
BG/NBD fitted by ``lifetimes``, the shipped settings without figures, and for cycle hits
the naive last-interval rule. Prints a Markdown report in a few minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.predictive import baselines, tables
from bench.predictive.data import as_events, data_path, read_purchases
from bench.predictive.replay import Replay, settings, world
from bench.predictive.tables import Days, Row
from orchestrator.config.catalog import load_figures
from orchestrator.core.figures import Figures
from orchestrator.core.scenarios import lifecycle, value_tier
from orchestrator.fitting.churn import backtest_rows, best_cuts
from orchestrator.fitting.command import FitOptions, fit, write_figures
from orchestrator.fitting.history import History, read_orders

END = date(1998, 6, 30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.predictive.report", description=__doc__.split("\n")[0])
    parser.add_argument("--calibration", default="1997-09-30", help="split date (default 1997-09-30, 39 weeks)")
    parser.add_argument("--lead-days", type=int, default=7, help="cycle hits this long before the predicted run-out")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    purchases = read_purchases()
    cutoff = datetime.combine(date.fromisoformat(args.calibration), datetime.min.time(), UTC)
    events = as_events(purchases)
    history, figures = _fitted(events, cutoff, args.lead_days)
    fitted_in = time.monotonic() - started
    end = datetime.combine(END, datetime.max.time(), UTC)
    replay = Replay(world(settings(args.lead_days), figures), cutoff).run(events, end)
    days = tables.days_of(purchases)
    rows = _rows(replay, days, cutoff)
    quiet_bg = {h: baselines.bgnbd_quiet(purchases, cutoff.date(), h) for h in (90, 180)}
    recency_cuts = _recency_cuts(history, cutoff)
    lines = [
        "# CDNOW: do the detectors predict later purchases?",
        "",
        f"Data: `{data_path().name}` ({len(purchases):,} purchases, {len(days):,} customers, "
        f"{min(p.day for p in purchases)} - {max(p.day for p in purchases)}). Calibration date {cutoff.date()}. "
        f"Figures fitted on the events before it in {fitted_in:.0f} s; {replay.inputs:,} inputs through "
        f"`core.process` in {time.monotonic() - started - fitted_in:.0f} s.",
        "",
        *tables.figures_summary(figures),
        *tables.churn(rows, quiet_bg, cutoff.date()),
        *tables.stages(rows, recency_cuts, cutoff.date()),
        *tables.tiers(rows, cutoff.date()),
        *_cycle(replay, days, cutoff.date(), args.lead_days),
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


def _fitted(events: list, cutoff: datetime, lead: int) -> tuple[History, Figures]:  # type: ignore[type-arg]
    """``orchestrator fit`` on the events before the cutoff, written and loaded back as a worker would."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cdnow.jsonl"
        with path.open("w", encoding="utf-8") as out:
            out.writelines(e.model_dump_json() + "\n" for e in events if e.time < cutoff)
        history = read_orders(path)
        figures = fit(history, FitOptions(until=cutoff.date(), lead_days=lead), "CDNOW_master.txt", cutoff)
        write_figures(figures, Path(folder) / "figures.yaml")
        return history, load_figures(Path(folder) / "figures.yaml")


def _recency_cuts(history: History, cutoff: datetime) -> tuple[float, float]:
    """Recency bands cut as the fitted stages are: on the calibration back-tests."""
    rows = backtest_rows(history, cutoff, 90, 5)
    return best_cuts([r.history.age - r.history.last for r in rows], [r.quiet for r in rows])


def _bought(days: list[date], start: date, within: int) -> bool:
    return any(start <= d < start + timedelta(days=within) for d in days)


def _rows(replay: Replay, days: Days, cutoff: datetime) -> list[Row]:
    life, tier = replay.world.scenarios.lifecycle, replay.world.scenarios.value_tier
    if life is None or tier is None:
        raise SystemExit("the replay runs with lifecycle and value_tier on")
    shipped = replace(replay.world, figures=None, population=replay.population_at_calibration)
    rows = []
    for cid, profile in sorted(replay.at_calibration.items()):
        standing = lifecycle.evaluate(profile, cutoff, life, replay.world)
        prior = lifecycle.evaluate(profile, cutoff, life, shipped)
        ranking = value_tier.evaluate(profile, cutoff, tier, replay.population_at_calibration)
        recency = (cutoff - standing.last_order).days if standing.last_order else 10_000
        day = cutoff.date()
        rows.append(
            Row(
                cid,
                standing.stage,
                standing.churn_risk,
                prior.stage,
                prior.churn_risk,
                ranking.tier if ranking else tier.tiers[-1].name,
                recency,
                _bought(days[cid], day, 90),
                _bought(days[cid], day, 180),
            )
        )
    return rows


def _cycle(replay: Replay, days: Days, cutoff: date, lead: int) -> list[str]:
    raised: Days = defaultdict(list)
    bases: dict[str, int] = defaultdict(int)
    for hit in replay.hits:
        if hit.scenario == "consumption_cycle_ending":
            raised[hit.customer_id].append(hit.at.date())
            bases[str(hit.evidence["basis"])] += hit.at.date() >= cutoff
    rules = {
        "engine, fitted figures": dict(raised),
        "last interval (naive)": baselines.alarms(days, baselines.last_interval, lead),
        "own median, else population's (shipped, no figures)": baselines.alarms(
            days, baselines.own_median(baselines.population_median(days, cutoff)), lead
        ),
    }
    basis = ", ".join(f"{k} {v:,}" for k, v in sorted(bases.items()))
    return tables.cycle(rules, days, (cutoff, END), lead, basis)


if __name__ == "__main__":
    sys.exit(main())
