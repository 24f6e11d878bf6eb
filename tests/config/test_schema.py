"""The committed JSON Schema matches the journey models, and journey files point editors at it."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.config.catalog import SETTINGS_FILES
from orchestrator.tools import SCHEMA_HEADER, journey_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schema" / "journey.schema.json"


def test_the_committed_schema_is_in_sync() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == journey_schema(), "run `orchestrator schema` and commit"


def test_the_schema_describes_the_step_kinds_and_durations() -> None:
    schema = json.loads(journey_schema())
    kinds = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["properties"]["steps"]["items"]["oneOf"]}
    assert {"SendStep", "WaitStep", "SplitStep", "TaskStep", "GotoStep", "ExitStep"} <= kinds
    assert schema["$defs"]["WaitStep"]["properties"]["wait"]["pattern"] == r"^\d+[smhdw]$"


def test_every_journey_file_carries_the_schema_line() -> None:
    journeys = [p for p in (REPO / "journeys").glob("*.yaml") if p.name not in SETTINGS_FILES]
    assert journeys
    for path in journeys:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"{SCHEMA_HEADER}../schema/journey.schema.json", path.name
