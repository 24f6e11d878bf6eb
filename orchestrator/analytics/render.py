"""The report as text for a terminal, and as CSV rows (one figure per row) for scripts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from orchestrator.analytics.report import JourneyReport, SplitReport

FUNNEL = ("reached", "sent", "delivered", "clicked", "replied", "goal")


def text(reports: list[JourneyReport]) -> str:
    if not reports:
        return "no journey-log records in the input\n"
    return "\n".join(_journey(r) for r in reports)


def _journey(r: JourneyReport) -> str:
    out = [
        f"━━ {r.journey} v{r.version} ━━  entered {r.entered} ({r.customers} customers) · "
        f"converted {r.converted} customers",
    ]
    rows = [[s.step, *(str(getattr(s, k)) for k in FUNNEL)] for s in r.steps]
    out.append(_table(["step", *FUNNEL], rows))
    for title, figures in (
        ("entry refused", r.refused),
        ("exits", r.exits),
        ("suppressed", r.suppressed),
        ("failures", r.failures),
    ):
        if figures:
            out.append(f"{title}: " + " · ".join(f"{k} × {v}" for k, v in figures.items()))
    out.extend(_split(s) for s in r.splits)
    return "\n".join(out) + "\n"


def _split(s: SplitReport) -> str:
    rows = []
    for a in s.arms:
        lift = "baseline" if a.baseline else ("—" if a.lift is None else f"{a.lift * 100:+.1f}%")
        p = "" if a.p_value is None else f"{a.p_value:.3g} ({a.test})"
        rows.append([a.arm, str(a.customers), str(a.conversions), f"{a.rate * 100:.1f}%", _ci(a.low, a.high), lift, p])
    table = _table(["arm", "customers", "converted", "rate", "95% CI", "lift", "p"], rows)
    verdicts = [f"  {a.verdict}" for a in s.arms if a.verdict]
    return "\n".join([f"split {s.step} (baseline {s.baseline}):", table, *verdicts])


def _ci(low: float, high: float) -> str:
    return f"{low * 100:.1f}–{high * 100:.1f}%"


def _table(head: Sequence[str], rows: list[list[str]]) -> str:
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("─" * w for w in widths))
    lines += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows
    ]
    return "\n".join("  " + line.rstrip() for line in lines)


def csv_text(reports: list[JourneyReport]) -> str:
    """journey, version, section, item, metric, value: one figure per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["journey", "version", "section", "item", "metric", "value"])
    for r in reports:
        writer.writerows([r.journey, r.version, *row] for row in _figures(r))
    return buffer.getvalue()


def _figures(r: JourneyReport) -> Iterator[tuple[str, str, str, object]]:
    yield "journey", "", "entered", r.entered
    yield "journey", "", "customers", r.customers
    yield "journey", "", "converted", r.converted
    for s in r.steps:
        for k in FUNNEL:
            yield "funnel", s.step, k, getattr(s, k)
    for section, figures in (
        ("refused", r.refused),
        ("exit", r.exits),
        ("suppressed", r.suppressed),
        ("failure", r.failures),
    ):
        for item, count in figures.items():
            yield section, item, "count", count
    for split in r.splits:
        for a in split.arms:
            item = f"{split.step}:{a.arm}"
            for metric in ("customers", "conversions", "rate", "low", "high", "lift", "p_value", "test"):
                value = getattr(a, metric)
                if value is not None:
                    yield "split", item, metric, value
