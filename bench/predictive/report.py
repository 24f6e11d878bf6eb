"""Do lifecycle stages, churn risk and cycle-ending hits predict later purchases? CDNOW, replayed.

    .venv/bin/pip install --no-deps lifetimes==0.11.3   # the data file only
    .venv/bin/python -m bench.predictive.report [--calibration 1997-09-30] [--lead-days 7] [--out FILE]

The whole history (69,659 purchases, 23,570 customers, Jan 1997 - Jun 1998) goes through
``core.process`` with a catalog that has no figure for CDs, so the cycle runs on each
customer's own repurchase rhythm (else the population's running median), and with the
default lifecycle and value-tier settings (nothing fitted to this data). At the
calibration date every customer's stage, churn risk and tier are judged as of that date;
the purchases after it say who came back. Cycle-ending hits raised after the calibration
date are judged by the purchases that followed them. Prints a Markdown report in about a
minute and a half.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.predictive import metrics
from bench.predictive.data import Purchase, as_events, data_path, read_purchases
from bench.predictive.replay import Replay, settings, world
from orchestrator.core.scenarios import lifecycle, value_tier

STAGES = ("registered", "new", "loyal", "dormant", "churned")
TIERS = ("钻", "金", "银", "普通")
END = date(1998, 6, 30)
Days = dict[str, list[date]]


@dataclass(frozen=True)
class Row:
    """One customer as of the calibration date, and what they did next."""

    stage: str
    risk: float
    tier: str
    recency: int
    bought_90: bool
    bought_180: bool


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.predictive.report", description=__doc__.split("\n")[0])
    parser.add_argument("--calibration", default="1997-09-30", help="split date (default 1997-09-30, 39 weeks)")
    parser.add_argument("--lead-days", type=int, default=7, help="cycle hits this long before the predicted run-out")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    purchases = read_purchases()
    cutoff = datetime.combine(date.fromisoformat(args.calibration), datetime.min.time(), UTC)
    end = datetime.combine(END, datetime.max.time(), UTC)
    replay = Replay(world(settings(args.lead_days)), cutoff).run(as_events(purchases), end)
    days = _days(purchases)
    lines = [
        "# CDNOW: do the detectors predict later purchases?",
        "",
        f"Data: `{data_path().name}` ({len(purchases):,} purchases, {len(days):,} customers, "
        f"{min(p.day for p in purchases)} - {max(p.day for p in purchases)}). Calibration date {cutoff.date()}; "
        f"{replay.inputs:,} inputs through `core.process` in {time.monotonic() - started:.0f} s.",
        "",
        *_standing(_rows(replay, days, cutoff), cutoff.date()),
        *_cycle(replay, days, cutoff.date(), args.lead_days),
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


def _days(purchases: list[Purchase]) -> Days:
    days: Days = defaultdict(list)
    for purchase in purchases:
        days[purchase.customer].append(purchase.day)
    return {cid: sorted(d) for cid, d in days.items()}


def _bought(days: list[date], start: date, within: int) -> bool:
    return any(start <= d < start + timedelta(days=within) for d in days)


def _rows(replay: Replay, days: Days, cutoff: datetime) -> list[Row]:
    life, tier = replay.world.scenarios.lifecycle, replay.world.scenarios.value_tier
    if life is None or tier is None:
        raise SystemExit("the replay runs with lifecycle and value_tier on")
    rows = []
    for cid, profile in sorted(replay.at_calibration.items()):
        standing = lifecycle.evaluate(profile, cutoff, life, replay.world)
        ranking = value_tier.evaluate(profile, cutoff, tier, replay.population_at_calibration)
        recency = (cutoff - standing.last_order).days if standing.last_order else 10_000
        day = cutoff.date()
        rows.append(
            Row(
                standing.stage,
                standing.churn_risk,
                ranking.tier if ranking else tier.tiers[-1].name,
                recency,
                _bought(days[cid], day, 90),
                _bought(days[cid], day, 180),
            )
        )
    return rows


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    return [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(head))) + " |",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
        "",
    ]


def _standing(rows: list[Row], day: date) -> list[str]:
    by90 = metrics.rates(((r.stage, r.bought_90) for r in rows), STAGES)
    by180 = {g.name: g for g in metrics.rates(((r.stage, r.bought_180) for r in rows), STAGES)}
    stages = [(g.name, f"{g.customers:,}", f"{g.rate:.1%}", f"{by180[g.name].rate:.1%}") for g in by90]
    aucs = []
    for within in (90, 180):
        gone = [not (r.bought_90 if within == 90 else r.bought_180) for r in rows]
        risk_auc = metrics.auc([r.risk for r in rows], gone)
        recency_auc = metrics.auc([float(r.recency) for r in rows], gone)
        aucs.append((f"{within} d", f"{risk_auc:.3f}", f"{recency_auc:.3f}", f"{sum(gone) / len(gone):.1%}"))
    tenths = metrics.deciles([r.risk for r in rows], [not r.bought_90 for r in rows])
    mean_risk = _decile_means([r.risk for r in rows])
    calibration = [
        (k, f"{low:.3f} - {high:.3f}", f"{mean:.3f}", f"{rate:.1%}")
        for k, ((low, high, rate), mean) in enumerate(zip(tenths, mean_risk, strict=True), start=1)
    ]
    by_tier = metrics.rates(((r.tier, r.bought_180) for r in rows), TIERS)
    tiers = [(g.name, f"{g.customers:,}", f"{g.rate:.1%}") for g in by_tier]
    return [
        f"## Lifecycle stage on {day} → a purchase in the next 90 / 180 days",
        "",
        *_table(("stage", "customers", "bought within 90 d", "within 180 d"), stages),
        f"## Churn risk on {day} (P(no purchase within 90 days)) → who did not buy",
        "",
        *_table(("horizon", "AUC of churn risk", "AUC of days since last order (baseline)", "no purchase"), aucs),
        "By churn-risk decile (1 = lowest risk): predicted against observed.",
        "",
        *_table(("decile", "churn risk", "mean churn risk", "no purchase within 90 d"), calibration),
        f"## Value tier on {day} → a purchase in the next 180 days",
        "",
        *_table(("tier", "customers", "bought within 180 d"), tiers),
    ]


def _decile_means(scores: list[float]) -> list[float]:
    ranked = sorted(scores)
    parts = [ranked[k * len(ranked) // 10 : (k + 1) * len(ranked) // 10] for k in range(10)]
    return [sum(p) / len(p) for p in parts]


def _cycle(replay: Replay, days: Days, cutoff: date, lead: int) -> list[str]:
    raised: Days = defaultdict(list)
    bases: dict[str, int] = defaultdict(int)
    for hit in replay.hits:
        if hit.scenario == "consumption_cycle_ending":
            raised[hit.customer_id].append(hit.at.date())
            bases[str(hit.evidence["basis"])] += hit.at.date() >= cutoff
    rows = []
    for n in (30, 60, 90):
        found = metrics.alarms(raised, days, (cutoff, END - timedelta(days=n)), n)
        rows.append(
            (
                n,
                f"{found.alarms:,}",
                f"{found.precision:.1%}",
                f"{found.base_rate:.1%}",
                f"{found.lift:.2f}",
                f"{found.recall:.1%} of {found.purchases:,}",
            )
        )
    basis = ", ".join(f"{k} {v:,}" for k, v in sorted(bases.items()))
    return [
        f"## consumption_cycle_ending after {cutoff} → a purchase within N days",
        "",
        f"Hits raised {lead} days before the predicted run-out, by basis: {basis}.",
        "",
        *_table(("N", "hits", "precision", "base rate (random day)", "lift", "recall"), rows),
    ]


if __name__ == "__main__":
    sys.exit(main())
