"""Operator files a careless or hostile author could write: each is refused with file:line,
at once and without a traceback (a "billion laughs" file used to take 2 GB and a minute)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.cli import main
from tests.config.helpers import problems

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
CASES = {
    "billion laughs": (BILLION_LAUGHS, "journeys/j.yaml:1:4: YAML syntax: anchor &a is not allowed"),
    "an alias inside its own anchor": ("id: &x [*x]\n", "journeys/j.yaml:1:5: YAML syntax: anchor &x is not allowed"),
    "a merge key": (
        "base: {name: x}\nid: j\nsteps:\n  - <<: *base\n",
        "journeys/j.yaml:4:9: YAML syntax: alias *base is not allowed",
    ),
    "a duplicate key": (
        "id: j\nname: a\nname: b\n",
        "journeys/j.yaml:3:1: YAML syntax: duplicate key 'name' (first at line 2)",
    ),
    "a duplicate key deep down": (
        "id: j\nsteps:\n  - id: s\n    send: {channel: sms, channel: wecom_private}\n",
        "journeys/j.yaml:4:26: YAML syntax: duplicate key 'channel' (first at line 4)",
    ),
    "a list as a key": ("? [a, b]\n: 1\n", "journeys/j.yaml:1:3: YAML syntax: a key must be a plain value"),
    "a mapping as a key": ("{x: 1}: 2\n", "journeys/j.yaml:1:1: YAML syntax: a key must be a plain value"),
}


def _tree(root: Path, journey: str) -> Path:
    (root / "journeys").mkdir()
    (root / "templates").mkdir()
    (root / "journeys" / "j.yaml").write_text(textwrap.dedent(journey), encoding="utf-8")
    return root


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_yaml_file_is_refused_with_its_position(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    [problem] = problems(_tree(tmp_path, text))
    assert problem.startswith(expected), problem


def test_validate_reports_a_billion_laughs_file_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, BILLION_LAUGHS)
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(root / "templates"))
    assert main(["validate", str(root / "journeys")]) == 1
    out = capsys.readouterr()
    assert "j.yaml:1:4: YAML syntax: anchor &a is not allowed" in out.out
    assert "Traceback" not in out.out + out.err
