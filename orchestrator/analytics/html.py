"""The report as one self-contained HTML page: tables and inline SVG charts, no script, no CDN.

Per journey version: the funnel (reached, sent, delivered, clicked, replied, goal per step,
as bars) and, for every split, the conversion rate of each arm with its 95 % interval
as a whisker, the baseline marked.
"""

from __future__ import annotations

from html import escape

from orchestrator.analytics.render import FUNNEL
from orchestrator.analytics.report import JourneyReport, SplitReport

COLOURS = {
    "reached": "#9fb3c8",
    "sent": "#4a90d9",
    "delivered": "#2bb3a3",
    "clicked": "#f5a623",
    "replied": "#bd10e0",
    "goal": "#2e7d32",
}
STYLE = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px;color:#1f2933}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d9e2ec}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eef2f6;text-align:right}
td:first-child,th:first-child{text-align:left}.note{color:#52606d;font-size:13px}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""
BAR_H = 10
LABEL_W = 140
CHART_W = 420


def page(reports: list[JourneyReport]) -> str:
    body = "".join(_journey(r) for r in reports) or "<p>No journey-log records in the input.</p>"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        "<title>xo-journeys report</title>"
        f"<style>{STYLE}</style></head><body><h1>Journey report</h1>{body}</body></html>\n"
    )


def _journey(r: JourneyReport) -> str:
    head = (
        f"<h2>{escape(r.journey)} v{r.version}</h2><p>entered {r.entered} ({r.customers} customers) · "
        f"converted {r.converted} customers</p>"
    )
    legend = (
        '<div class="legend">'
        + "".join(f'<span><i style="background:{COLOURS[k]}"></i>{k}</span>' for k in _shown(r))
        + "</div>"
    )
    rows = "".join(
        f"<tr><td>{escape(s.step)}</td>" + "".join(f"<td>{getattr(s, k)}</td>" for k in FUNNEL) + "</tr>"
        for s in r.steps
    )
    table = "<table><tr><th>step</th>" + "".join(f"<th>{k}</th>" for k in FUNNEL) + f"</tr>{rows}</table>"
    lists = "".join(
        f"<p class=note><b>{title}</b>: " + " · ".join(f"{escape(k)} × {v}" for k, v in figures.items()) + "</p>"
        for title, figures in (
            ("entry refused", r.refused),
            ("exits", r.exits),
            ("suppressed", r.suppressed),
            ("failures", r.failures),
        )
        if figures
    )
    return head + legend + _funnel_svg(r) + table + lists + "".join(_split(s) for s in r.splits)


def _shown(r: JourneyReport) -> list[str]:
    """The funnel figures worth a bar: reached always, the others when any step has some."""
    return [k for k in FUNNEL if k == "reached" or any(getattr(s, k) for s in r.steps)]


def _funnel_svg(r: JourneyReport) -> str:
    top = max((s.reached for s in r.steps), default=0) or 1
    shown = _shown(r)
    group = BAR_H * len(shown) + 8
    height = group * len(r.steps) + 10
    parts = [f'<svg class="funnel" width="{LABEL_W + CHART_W + 60}" height="{height}" role="img">']
    for i, s in enumerate(r.steps):
        y = 5 + i * group
        parts.append(f'<text x="0" y="{y + group / 2}" font-size="12">{escape(s.step)}</text>')
        for j, k in enumerate(shown):
            value = getattr(s, k)
            w = CHART_W * value / top
            yy = y + j * BAR_H
            parts.append(
                f'<rect x="{LABEL_W}" y="{yy}" width="{w:.1f}" height="{BAR_H - 2}" fill="{COLOURS[k]}">'
                f"<title>{escape(s.step)} {k}: {value}</title></rect>"
            )
            parts.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{yy + BAR_H - 2}" font-size="9">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _split(s: SplitReport) -> str:
    rows = "".join(
        f"<tr><td>{escape(a.arm)}{' (baseline)' if a.baseline else ''}</td><td>{a.customers}</td>"
        f"<td>{a.conversions}</td><td>{a.rate * 100:.1f}%</td><td>{a.low * 100:.1f}–{a.high * 100:.1f}%</td>"
        f"<td>{'' if a.lift is None else f'{a.lift * 100:+.1f}%'}</td>"
        f"<td>{'' if a.p_value is None else f'{a.p_value:.3g} ({a.test})'}</td></tr>"
        for a in s.arms
    )
    table = (
        "<table><tr><th>arm</th><th>customers</th><th>converted</th><th>rate</th><th>95% CI</th>"
        f"<th>lift</th><th>p</th></tr>{rows}</table>"
    )
    verdicts = "".join(f"<p class=note>{escape(a.verdict)}</p>" for a in s.arms if a.verdict)
    return f"<h3>split {escape(s.step)}</h3>{_arms_svg(s)}{table}{verdicts}"


def _arms_svg(s: SplitReport) -> str:
    """Conversion rate per arm as a bar, the 95 % interval as a whisker, on a 0–100 % axis."""
    row_h = 28
    height = row_h * len(s.arms) + 30
    scale = CHART_W / max(max((a.high for a in s.arms), default=1.0), 0.01)
    parts = [f'<svg class="arms" width="{LABEL_W + CHART_W + 80}" height="{height}" role="img">']
    for i, a in enumerate(s.arms):
        y = 8 + i * row_h
        colour = "#9fb3c8" if a.baseline else "#4a90d9"
        lo, hi, mid = LABEL_W + a.low * scale, LABEL_W + a.high * scale, y + 9
        parts += [
            f'<text x="0" y="{y + 13}" font-size="12">{escape(a.arm)}</text>',
            f'<rect x="{LABEL_W}" y="{y}" width="{a.rate * scale:.1f}" height="18" fill="{colour}">'
            f"<title>{escape(a.arm)}: {a.rate * 100:.1f}% ({a.conversions}/{a.customers})</title></rect>",
            f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" stroke="#1f2933" stroke-width="1.5"/>',
            f'<line x1="{lo:.1f}" y1="{mid - 6}" x2="{lo:.1f}" y2="{mid + 6}" stroke="#1f2933"/>',
            f'<line x1="{hi:.1f}" y1="{mid - 6}" x2="{hi:.1f}" y2="{mid + 6}" stroke="#1f2933"/>',
            f'<text x="{hi + 6:.1f}" y="{y + 13}" font-size="11">{a.rate * 100:.1f}%</text>',
        ]
    axis_y = height - 14
    parts.append(f'<line x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + CHART_W}" y2="{axis_y}" stroke="#9aa5b1"/>')
    top = CHART_W / scale
    for tick in range(5):
        x = LABEL_W + CHART_W * tick / 4
        parts.append(f'<text x="{x:.1f}" y="{height - 2}" font-size="9">{top * tick / 4 * 100:.0f}%</text>')
    parts.append("</svg>")
    return "".join(parts)
