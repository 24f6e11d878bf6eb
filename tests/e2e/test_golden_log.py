"""Golden journey logs: ``simulate --log`` over every example journey's recorded events.

``tests/fixtures/golden/log/<id>.jsonl`` holds the journey-log records of the dry run
whose actions ``tests/fixtures/golden/<id>.jsonl`` holds (same events, same ``--until``).
After an intended change, regenerate and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/e2e/test_golden_log.py

Beside the bytes, the log must agree with the actions file: every action has its ``sent``
record, every suppression, step failure and conversion its record, every instance that
entered ends exactly once or is still running.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import orjson
import pytest

from orchestrator.cli import main
from orchestrator.core.journey_log import KINDS, LOG_VERSION
from tests.e2e.test_golden import EVENTS, GOLDEN, JOURNEYS, TEMPLATES, UNTIL

LOGS = GOLDEN / "log"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _simulate(journey: str, tmp_path: Path) -> tuple[list[dict[str, object]], bytes, list[dict[str, object]]]:
    out, log = tmp_path / "out.jsonl", tmp_path / "log.jsonl"
    args = ["simulate", "--journeys", str(JOURNEYS), "--templates", str(TEMPLATES)]
    args += ["--events", str(EVENTS / f"{journey}.jsonl"), "--until", UNTIL[journey]]
    assert main([*args, "--out", str(out), "--log", str(log)]) == 0
    raw = log.read_bytes()
    return [orjson.loads(x) for x in out.read_bytes().splitlines()], raw, [orjson.loads(x) for x in raw.splitlines()]


@pytest.mark.parametrize("journey", sorted(UNTIL))
def test_the_log_matches_its_golden(journey: str, tmp_path: Path) -> None:
    _, raw, _ = _simulate(journey, tmp_path)
    golden = LOGS / f"{journey}.jsonl"
    if UPDATE:
        golden.write_bytes(raw)
    assert raw == golden.read_bytes()


@pytest.mark.parametrize("journey", sorted(UNTIL))
def test_the_log_agrees_with_the_actions(journey: str, tmp_path: Path) -> None:
    output, _, log = _simulate(journey, tmp_path)
    assert all(r["v"] == LOG_VERSION and r["kind"] in KINDS for r in log)
    sent = {str(r["action_id"]) for r in log if r["kind"] == "sent"}
    assert sent == {str(r["action_id"]) for r in output if "action_id" in r}
    kinds = Counter(str(r["kind"]) for r in log)
    assert kinds["suppressed"] == sum(1 for r in output if "suppressed" in r)
    assert kinds["failed"] == sum(1 for r in output if "step_failure" in r)
    assert kinds["goal"] == sum(1 for r in output if "conversion" in r)
    entered = Counter((r["customer_id"], r["instance"]) for r in log if r["kind"] == "entered")  # ids are per customer
    exited = Counter((r["customer_id"], r["instance"]) for r in log if r["kind"] == "exited")
    assert all(n == 1 for n in entered.values())
    assert set(exited) <= set(entered)
    assert all(n == 1 for n in exited.values())
