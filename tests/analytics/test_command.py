"""``orchestrator report`` on files: text, JSON and CSV, bad lines named, unknown versions skipped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from orchestrator.cli import main
from tests.analytics.population import run


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim, _ = run(200)
    path = tmp_path_factory.mktemp("log") / "log.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in sim.log))
    return path


def test_text_names_the_journey_the_steps_and_the_arms(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(log_file)]) == 0
    out = capsys.readouterr().out
    assert "offer-test v1" in out
    assert "split offer (baseline holdout)" in out
    for word in ("hello", "reached", "95% CI", "lift"):
        assert word in out


def test_json_and_csv_carry_the_same_figures(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, truth = run(200)
    assert main(["report", str(log_file), "--output", "json"]) == 0
    [journey] = orjson.loads(capsys.readouterr().out)
    arms = {a["arm"]: (a["customers"], a["conversions"]) for a in journey["splits"][0]["arms"]}
    assert arms == {arm: (truth.customers[arm], truth.conversions[arm]) for arm in truth.customers}
    assert main(["report", str(log_file), "--output", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    customers = {r["item"]: int(r["value"]) for r in rows if r["section"] == "split" and r["metric"] == "customers"}
    assert customers == {f"offer:{arm}": truth.customers[arm] for arm in truth.customers}


def test_bad_lines_are_named_and_the_rest_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim, _ = run(10)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        sim.log[0]
        + b"\nnot json\n"
        + b'{"v":1,"kind":"entered","customer_id":"X"}\n'
        + b'{"v":2,"kind":"entered","whatever":1}\n'
        + b"\n".join(sim.log[1:])
    )
    assert main(["report", str(bad), "--output", "json"]) == 1
    captured = capsys.readouterr()
    assert orjson.loads(captured.out)[0]["entered"] == 10
    assert f"{bad}:2: not JSON" in captured.err
    assert f"{bad}:3: at: Field required" in captured.err
    assert "1 record(s) of log version 2 skipped" in captured.err


def test_bad_flags_and_missing_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--since", "yesterday"]) == 2
    assert "--since 'yesterday' is not an ISO time" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--until", "2026-12-01T00:00:00"]) == 2
    assert "--until needs a time zone" in capsys.readouterr().err
