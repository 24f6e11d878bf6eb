"""`graph --format dot|svg`: the journey drawn by Graphviz, looked at in the test: every step
is a node with its text, every edge is there, and no two nodes overlap on the image.

Needs Debian's graphviz (`dot`) for the SVG."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config.catalog import load_config
from orchestrator.config.graph import edges

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]


@pytest.fixture(autouse=True)
def _repo_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(REPO / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(REPO / "templates"))


def _bbox(group: ET.Element) -> Box:
    numbers: list[float] = []
    for shape in group:
        numbers += [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", shape.get("points", "") + shape.get("d", ""))]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_dot_text_has_every_step_edge_goal_and_exit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "car-service", "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "car-service" {')
    assert '  workday [label="workday: wait until 10:00 on a business day", shape=box, style=rounded];' in out
    assert '  wait_booking -> advisor_call [label="timeout 3d"];' in out
    assert '  Goal [label="goal: service.completed within 30d", shape=hexagon];' in out
    assert '  Exits -> Done [style=dashed, label="exited, at any step"];' in out


# Graphviz's `dot` is a Debian package (.ci/system-packages): drawing runs with the slow suites.
@pytest.mark.slow
@pytest.mark.parametrize("journey_id", ["aftersales-care", "replenish", "winback-dormant"])
def test_the_svg_shows_every_step_and_edge_without_overlaps(journey_id: str, tmp_path: Path) -> None:
    assert shutil.which("dot"), "install Debian's graphviz (apt-get install graphviz) to draw journeys"
    out = tmp_path / f"{journey_id}.svg"
    assert main(["graph", journey_id, "--format", "svg", "--out", str(out)]) == 0
    journey = next(j for j in load_config(REPO / "journeys", REPO / "templates").journeys if j.id == journey_id)
    root = ET.parse(out).getroot()  # noqa: S314 - our own graphviz output
    nodes = {g.findtext(f"{SVG}title"): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    assert set(nodes) >= {s.id for s in journey.steps} | {"Start", "Done"}
    for step in journey.steps:
        texts = [t.text or "" for t in nodes[step.id].iter(f"{SVG}text")]
        assert texts[0].startswith(f"{step.id}: "), texts
    drawn = {g.findtext(f"{SVG}title") for g in root.iter(f"{SVG}g") if g.get("class") == "edge"}
    expected = {f"{a}->{b or 'Done'}" for a, b, _, _ in edges(journey)} | {f"Start->{journey.steps[0].id}"}
    assert expected <= drawn
    boxes = {name: _bbox(group) for name, group in nodes.items()}
    assert not [(a, b) for a, b in combinations(sorted(boxes), 2) if _overlap(boxes[a], boxes[b])]


def test_without_graphviz_the_svg_is_refused_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["graph", "replenish", "--format", "svg"]) == 2
    assert "needs Graphviz's `dot` (Debian: apt-get install graphviz)" in capsys.readouterr().err
