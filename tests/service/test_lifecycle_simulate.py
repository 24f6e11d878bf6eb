"""simulate honours a journey's status and its start_at / end_at, by event time."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from orchestrator.config.catalog import load_config
from orchestrator.service.simulate import simulate
from tests.config.helpers import problems

JOURNEY = """\
id: campaign
name: 双十二预热
version: 1
status: {status}
start_at: "2026-12-01T00:00:00+08:00"
end_at: "2026-12-13T00:00:00+08:00"
trigger: {{event: chat.message}}
steps:
  - id: hi
    send: {{channel: wecom_private, template: t.j2}}
"""


def _tree(root: Path, status: str = "live") -> Path:
    (root / "journeys").mkdir(exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    (root / "journeys" / "campaign.yaml").write_text(JOURNEY.format(status=status), encoding="utf-8")
    (root / "templates" / "t.j2").write_text("双十二预热开始啦", encoding="utf-8")
    return root


def _chat(n: int, day: str) -> bytes:
    identity = {"member_id": f"C{n}", "wecom_external_id": f"wm{n}"}
    event = {"id": f"e{n}", "type": "chat.message", "time": f"{day}T10:00:00+08:00", "identity": identity}
    return orjson.dumps({**event, "data": {"text": "在吗"}})


LINES = [_chat(1, "2026-11-30"), _chat(2, "2026-12-01"), _chat(3, "2026-12-12"), _chat(4, "2026-12-13")]


@pytest.mark.parametrize(("status", "reached"), [("live", ["C2", "C3"]), ("paused", []), ("draft", [])])
def test_only_entries_inside_the_window_of_a_live_journey(tmp_path: Path, status: str, reached: list[str]) -> None:
    root = _tree(tmp_path, status)
    world = load_config(root / "journeys", root / "templates").world()
    assert [a.customer_id for a in simulate(world, LINES).actions] == reached


def test_a_bad_status_or_window_is_located(tmp_path: Path) -> None:
    root = _tree(tmp_path, "running")
    [bad_status] = problems(root)
    assert bad_status == ("journeys/campaign.yaml:4:1: status: Input should be 'draft', 'live', 'paused' or 'stopped'")
    path = root / "journeys" / "campaign.yaml"
    path.write_text(JOURNEY.format(status="live").replace("2026-12-13T", "2026-11-13T"), encoding="utf-8")
    [bad_window] = problems(root)
    assert bad_window == (
        "journeys/campaign.yaml:6:1: end_at: Value error, end_at 2026-11-13T00:00:00+08:00 must come after "
        "start_at 2026-12-01T00:00:00+08:00"
    )
