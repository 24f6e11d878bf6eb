"""The report's tables: each figure beside its baselines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bench.predictive import baselines, metrics
from bench.predictive.data import Purchase
from orchestrator.core.figures import Figures
from orchestrator.fitting.churn import best_cuts

STAGES = ("registered", "new", "loyal", "dormant", "churned")
RISK_ORDER = {"loyal": 0, "new": 0, "dormant": 1, "churned": 2, "registered": 2}  # stages as a risk score
TIERS = ("钻", "金", "银", "普通")
Days = dict[str, list[date]]


@dataclass(frozen=True)
class Row:
    """One customer as of the calibration date, and what they did next."""

    customer: str
    stage: str
    risk: float
    shipped_stage: str  # with the shipped settings and no figures
    shipped_risk: float
    tier: str
    recency: int
    bought_90: bool
    bought_180: bool


def days_of(purchases: list[Purchase]) -> Days:
    days: Days = defaultdict(list)
    for purchase in purchases:
        days[purchase.customer].append(purchase.day)
    return {cid: sorted(d) for cid, d in days.items()}


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    return [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(head))) + " |",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
        "",
    ]


def figures_summary(f: Figures) -> list[str]:
    p = f.bgnbd
    gates = ", ".join(f"{k}: {v.min_chance:g}" for k, v in f.intervals.items())
    return [
        f"Fitted figures (format {f.version}, before {f.calibration_end}): BG/NBD r = {p.r:.3f}, "
        f"alpha = {p.alpha_days:.1f} days, a = {p.a:.3f}, b = {p.b:.3f}; stages: dormant at churn risk "
        f"{f.stages.dormant_at:g}, churned at {f.stages.churned_at:g}; cycle hits need a purchase chance "
        f"in {next(iter(f.intervals.values())).window_days:g} days of at least {gates}.",
        "",
    ]


def churn(rows: list[Row], quiet_bg: Mapping[int, Mapping[str, float]], day: date) -> list[str]:
    outcomes = {90: [not r.bought_90 for r in rows], 180: [not r.bought_180 for r in rows]}
    scores: dict[str, Mapping[int, Sequence[float]]] = {
        "churn risk, fitted figures (engine)": {h: [r.risk for r in rows] for h in (90, 180)},
        "churn risk, shipped priors (no figures)": {h: [r.shipped_risk for r in rows] for h in (90, 180)},
        "BG/NBD, lifetimes (baseline)": {h: [quiet_bg[h].get(r.customer, 1.0) for r in rows] for h in (90, 180)},
        "days since last order (baseline)": {h: [float(r.recency) for r in rows] for h in (90, 180)},
    }
    aucs = [(name, *(f"{metrics.auc(s[h], outcomes[h]):.3f}" for h in (90, 180))) for name, s in scores.items()]
    share = [f"{sum(o) / len(o):.1%}" for o in outcomes.values()]
    return [
        f"## Churn risk on {day} → no purchase in the next 90 / 180 days",
        "",
        f"No purchase within 90 days: {share[0]}; within 180 days: {share[1]}.",
        "",
        *table(("score", "AUC, 90 d", "AUC, 180 d"), aucs),
        *reliability("churn risk, fitted figures", [r.risk for r in rows], outcomes[90]),
        *reliability("BG/NBD, lifetimes", scores["BG/NBD, lifetimes (baseline)"][90], outcomes[90]),
    ]


def reliability(name: str, scores: Sequence[float], outcomes: Sequence[bool]) -> list[str]:
    ranked = sorted(zip(scores, outcomes, strict=True), key=lambda p: p[0])
    lines, gap = [], 0.0
    for k in range(10):
        part = ranked[k * len(ranked) // 10 : (k + 1) * len(ranked) // 10]
        mean = sum(s for s, _ in part) / len(part)
        seen = sum(o for _, o in part) / len(part)
        gap += abs(mean - seen) * len(part) / len(ranked)
        lines.append((k + 1, f"{part[0][0]:.3f} - {part[-1][0]:.3f}", f"{mean:.3f}", f"{seen:.1%}"))
    return [
        f"Reliability of {name} by decile (1 = lowest risk): predicted against observed "
        f"(no purchase within 90 days); mean gap {gap:.3f}.",
        "",
        *table(("decile", "range", "mean predicted", "observed"), lines),
    ]


def stages(rows: list[Row], recency_cuts: tuple[float, float], day: date) -> list[str]:
    """``recency_cuts``: cut on the calibration back-tests, as the fitted stages are."""
    by90 = metrics.rates(((r.stage, r.bought_90) for r in rows), STAGES)
    by180 = {g.name: g for g in metrics.rates(((r.stage, r.bought_180) for r in rows), STAGES)}
    counts = [(g.name, f"{g.customers:,}", f"{g.rate:.1%}", f"{by180[g.name].rate:.1%}") for g in by90]
    shipped = metrics.rates(((r.shipped_stage, r.bought_90) for r in rows), STAGES)
    low, high = recency_cuts
    recency = [float(r.recency) for r in rows]
    best = best_cuts(recency, [not r.bought_90 for r in rows])
    orders = {
        "stages, fitted cuts (engine)": [float(RISK_ORDER[r.stage]) for r in rows],
        "stages, shipped factors of the rhythm (no figures)": [float(RISK_ORDER[r.shipped_stage]) for r in rows],
        f"recency in three bands cut on the back-tests: < {low:g}, < {high:g}, more days (baseline)": [
            float(b) for b in baselines.bands(recency, recency_cuts)
        ],
        f"recency in three bands cut on the hold-out itself: < {best[0]:g}, < {best[1]:g}, more days "
        "(best any recency rule can do)": [float(b) for b in baselines.bands(recency, best)],
    }
    aucs = [
        (
            name,
            f"{metrics.auc(s, [not r.bought_90 for r in rows]):.3f}",
            f"{metrics.auc(s, [not r.bought_180 for r in rows]):.3f}",
        )
        for name, s in orders.items()
    ]
    return [
        f"## Lifecycle stage on {day} → a purchase in the next 90 / 180 days",
        "",
        *table(("stage (fitted cuts)", "customers", "bought within 90 d", "within 180 d"), counts),
        "Shipped stages (no figures): "
        + ", ".join(f"{g.name} {g.customers:,} ({g.rate:.1%} bought within 90 d)" for g in shipped)
        + ".",
        "",
        "Stages as a risk order (loyal and new < dormant < churned) against no purchase:",
        "",
        *table(("order", "AUC, 90 d", "AUC, 180 d"), aucs),
    ]


def tiers(rows: list[Row], day: date) -> list[str]:
    by_tier = metrics.rates(((r.tier, r.bought_180) for r in rows), TIERS)
    return [
        f"## Value tier on {day} → a purchase in the next 180 days",
        "",
        *table(
            ("tier", "customers", "bought within 180 d"),
            [(g.name, f"{g.customers:,}", f"{g.rate:.1%}") for g in by_tier],
        ),
    ]


def cycle(rules: Mapping[str, Days], days: Days, span: tuple[date, date], lead: int, basis: str) -> list[str]:
    cutoff, end = span
    rows = []
    for n in (30, 60, 90):
        for name, raised in rules.items():
            found = metrics.alarms(raised, days, (cutoff, end - timedelta(days=n)), n, base=days)
            rows.append(
                (
                    f"{n} d, {name}",
                    f"{found.alarms:,}",
                    f"{found.precision:.1%}",
                    f"{found.lift:.2f}",
                    f"{found.recall:.1%} of {found.purchases:,}",
                )
            )
    base = metrics.alarms({}, days, (cutoff, end - timedelta(days=30)), 30, base=days).base_rate
    return [
        f"## consumption_cycle_ending after {cutoff} → a purchase within N days",
        "",
        f"Hits raised {lead} days before the predicted run-out; the engine's by basis: {basis}. Lift is over "
        f"one base rate for every rule: a purchase within N days of a random day of the hold-out, all "
        f"customers ({base:.1%} for 30 days), so lifts compare as precisions do.",
        "",
        *table(("N, rule", "hits", "precision", "lift", "recall"), rows),
    ]
