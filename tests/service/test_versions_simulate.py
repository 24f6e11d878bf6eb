"""simulate switches journey versions at their active_from, by event time, from one journeys folder."""

from __future__ import annotations

from pathlib import Path

import orjson

from orchestrator.config.catalog import load_config
from orchestrator.service.simulate import simulate
from tests.config.helpers import problems

JOURNEY = """\
id: greet
name: 问候
version: {version}
{active_from}trigger: {{event: chat.message}}
steps:
  - id: hi
    send: {{channel: wecom_private, template: v{version}.j2}}
"""


def _tree(root: Path, second_from: str = 'active_from: "2026-12-01T10:00:00+08:00"\n') -> Path:
    (root / "journeys").mkdir(exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    for version, active_from in ((1, ""), (2, second_from)):
        text = JOURNEY.format(version=version, active_from=active_from)
        (root / "journeys" / f"greet-v{version}.yaml").write_text(text, encoding="utf-8")
        (root / "templates" / f"v{version}.j2").write_text(f"第{version}版", encoding="utf-8")
    return root


def _chat(n: int, time: str) -> bytes:
    identity = {"member_id": f"C{n}", "wecom_external_id": f"wm{n}"}
    event = {"id": f"e{n}", "type": "chat.message", "time": time, "identity": identity}
    return orjson.dumps({**event, "data": {"text": "在吗"}})


def test_the_new_version_takes_entries_from_its_instant_in_event_time(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    world = load_config(root / "journeys", root / "templates").world()
    lines = [
        _chat(1, "2026-12-01T09:59:59+08:00"),
        _chat(2, "2026-12-01T10:00:00+08:00"),
        _chat(3, "2026-12-02T08:00Z"),
    ]
    got = [(a.customer_id, a.journey.version, a.content["text"]) for a in simulate(world, lines).actions]
    assert got == [("C1", 1, "第1版"), ("C2", 2, "第2版"), ("C3", 2, "第2版")]


def test_an_active_from_without_a_zone_is_located(tmp_path: Path) -> None:
    root = _tree(tmp_path, 'active_from: "2026-12-01T10:00:00"\n')
    [bad] = problems(root)
    assert bad.startswith("journeys/greet-v2.yaml:4:1: active_from: ")
    assert "timezone" in bad


def test_a_future_version_that_a_higher_one_would_hide_is_named(tmp_path: Path) -> None:
    root = _tree(tmp_path, 'active_from: "2999-12-01T10:00:00+08:00"\n')
    third = JOURNEY.format(version=3, active_from='active_from: "2999-11-01T10:00:00+08:00"\n')
    (root / "journeys" / "greet-v3.yaml").write_text(third.replace("v3.j2", "v2.j2"), encoding="utf-8")
    [hidden] = problems(root)
    assert hidden == (
        "journeys/greet-v2.yaml:4:1: active_from: version 2 would never take an entry: version 3 is in force "
        "from 2999-11-01T10:00:00+08:00, before this version's active_from 2999-12-01T10:00:00+08:00"
    )


def test_an_old_version_kept_for_its_running_instances_is_fine(tmp_path: Path) -> None:
    root = _tree(tmp_path)  # version 2 from 2026-12-01, in the past: version 1 only serves its instances
    (root / "journeys" / "greet-v3.yaml").write_text(JOURNEY.format(version=3, active_from=""), encoding="utf-8")
    (root / "templates" / "v3.j2").write_text("第3版", encoding="utf-8")
    config = load_config(root / "journeys", root / "templates")
    assert sorted(j.version for j in config.journeys) == [1, 2, 3]
