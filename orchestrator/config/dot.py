"""A journey as a Graphviz DOT graph, and as an SVG image rendered by Graphviz's ``dot``.

The same content as the Mermaid flowchart (``describe.py``), for operators who want a file
they can open: ``orchestrator graph JOURNEY --format svg --out journey.svg``. Rendering
needs Debian's ``graphviz`` package (``dot`` on the PATH); the DOT text does not.
"""

from __future__ import annotations

import shutil
import subprocess

from orchestrator.config.describe import SEP, edge_label, exits_text, goal_text, step_text, trigger_text
from orchestrator.config.graph import edges
from orchestrator.core.journey_spec import WAITING_KINDS, JourneySpec, step_kind

START, DONE, GOAL, EXITS = "Start", "Done", "Goal", "Exits"
RENDER_TIMEOUT_S = 30
_SHAPES = {"branch": "diamond", "split": "diamond"}


class RenderError(Exception):
    """The SVG could not be drawn (no ``dot``, or it failed); the message says what to do."""


def dot(journey: JourneySpec) -> str:
    lines = [
        f"digraph {_quote(journey.id)} {{",
        '  graph [rankdir=TB, fontname="Noto Sans CJK SC,sans-serif"];',
        '  node [fontname="Noto Sans CJK SC,sans-serif", fontsize=11, shape=box];',
        '  edge [fontname="Noto Sans CJK SC,sans-serif", fontsize=10];',
        f"  {START} [label={_quote(trigger_text(journey))}, shape=box, style=rounded];",
        f"  {DONE} [label=end, shape=box, style=rounded];",
    ]
    for step in journey.steps:
        kind = step_kind(step)
        style = ", style=rounded" if kind in WAITING_KINDS else ""
        lines.append(f"  {step.id} [label={_quote(step_text(step))}, shape={_SHAPES.get(kind, 'box')}{style}];")
    lines.append(f"  {START} -> {journey.steps[0].id};")
    for source, target, _, label in edges(journey):
        text = f" [label={_quote(edge_label(journey, source, label))}]" if label else ""
        lines.append(f"  {source} -> {target or DONE}{text};")
    for node, ending, how in ((GOAL, goal_text(journey), "converted"), (EXITS, exits_text(journey), "exited")):
        if ending:
            lines.append(f"  {node} [label={_quote(ending)}, shape=hexagon];")
            lines.append(f'  {node} -> {DONE} [style=dashed, label="{how}, at any step"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def svg(journey: JourneySpec) -> bytes:
    """The DOT graph drawn by Graphviz; RenderError when ``dot`` is missing or fails."""
    program = shutil.which("dot")
    if program is None:
        raise RenderError("drawing an SVG needs Graphviz's `dot` (Debian: apt-get install graphviz)")
    try:
        # The program is Graphviz found on PATH; its input is our own DOT text, no shell.
        done = subprocess.run(  # noqa: S603
            [program, "-Tsvg"], input=dot(journey).encode(), capture_output=True, timeout=RENDER_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"graphviz dot failed: {exc}") from exc
    if done.returncode != 0:
        raise RenderError(f"graphviz dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace(SEP, "\\n")
    return f'"{escaped}"'
