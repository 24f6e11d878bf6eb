"""`orchestrator fit`: an events file → a figures file workers load (and the errors on bad input)."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config.catalog import load_config, load_figures
from orchestrator.core import forecast
from orchestrator.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
START = datetime(2025, 1, 1, 12, tzinfo=UTC)


def _events(path: Path, customers: int = 400) -> None:
    """Customers who buy every ~20 days for a while, then stop (a seeded, fixed history)."""
    rng = random.Random(7)
    lines = []
    for c in range(customers):
        at = START + timedelta(days=rng.randrange(60))
        alive_until = at + timedelta(days=rng.expovariate(1 / 120))
        n = 0
        while at < START + timedelta(days=365) and (n == 0 or at < alive_until):
            n += 1
            order = {
                "order_id": f"C{c}-{n}",
                "amount": round(rng.uniform(10, 90), 2),
                "items": [{"sku": "B", "category": "coffee"}],
            }
            lines.append(
                {
                    "id": f"C{c}-{n}",
                    "type": "order.paid",
                    "time": at.isoformat(),
                    "identity": {"member_id": f"C{c}"},
                    "data": order,
                }
            )
            at += timedelta(days=max(1.0, rng.expovariate(1 / 20)))
    lines.append(
        {
            "id": "r1",
            "type": "order.refunded",
            "time": START.isoformat(),
            "identity": {"member_id": "C0"},
            "data": {"order_id": "C0-1"},
        }
    )
    lines.append(
        {
            "id": "chat",
            "type": "chat.message",
            "time": START.isoformat(),
            "identity": {"member_id": "C1"},
            "data": {"text": "hi"},
        }
    )
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")


def test_fit_writes_figures_a_worker_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, out = tmp_path / "events.jsonl", tmp_path / "figures.yaml"
    _events(events)
    assert main(["fit", str(events), "--until", "2025-10-01", "--out", str(out)]) == 0
    assert "customers before 2025-10-01" in capsys.readouterr().out
    figures = load_figures(out)
    assert figures.calibration_end.isoformat() == "2025-10-01"
    assert figures.customers == 400
    assert 0 < figures.stages.dormant_at < figures.stages.churned_at < 1
    assert set(figures.intervals) == {"*", "coffee"}
    assert 2.0 < figures.intervals["coffee"].mean_log < 4.0  # ~20 days between orders: log 20 ≈ 3
    assert figures.churn.weights["logit_bgnbd"] > 0  # BG/NBD's own chance carries weight
    # a worker's config picks the file up from the journeys folder
    journeys = tmp_path / "journeys"
    shutil.copytree(REPO / "journeys", journeys)
    shutil.copy(out, journeys / "figures.yaml")
    assert load_config(journeys, REPO / "templates").world().figures == figures


def test_a_bad_event_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    _events(events, customers=5)
    with events.open("a", encoding="utf-8") as out:
        out.write('{"id": "x", "type": "order.paid", "time": "yesterday"}\n')
    assert main(["fit", str(events), "--until", "2025-10-01", "--out", str(tmp_path / "f.yaml")]) == 1
    lines = len(events.read_text(encoding="utf-8").splitlines())
    assert f"events.jsonl:{lines}:" in capsys.readouterr().err
    assert not (tmp_path / "f.yaml").exists()


def test_too_little_history_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    _events(events, customers=10)
    assert main(["fit", str(events), "--until", "2025-10-01", "--out", str(tmp_path / "f.yaml")]) == 1
    assert "BG/NBD needs at least 50" in capsys.readouterr().err


def test_a_hand_edited_figures_file_is_refused_with_its_line(tmp_path: Path) -> None:
    events, out = tmp_path / "events.jsonl", tmp_path / "figures.yaml"
    _events(events)
    assert main(["fit", str(events), "--until", "2025-10-01", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row.strip().startswith("churned_at:"))
    out.write_text(text.replace("churned_at:", "churned_at: -1 #"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_figures(out)
    [problem] = caught.value.problems
    assert f"figures.yaml:{line}:" in str(problem)
    assert "stages.churned_at" in str(problem)


def test_simulate_reads_the_figures_file(tmp_path: Path) -> None:
    events, figures_file = tmp_path / "events.jsonl", tmp_path / "figures.yaml"
    _events(events)
    assert main(["fit", str(events), "--until", "2025-10-01", "--out", str(figures_file)]) == 0
    journeys = tmp_path / "journeys"
    shutil.copytree(REPO / "journeys", journeys)
    runs = {}
    for name in ("priors", "fitted"):
        if name == "fitted":
            shutil.copy(figures_file, journeys / "figures.yaml")
        dump = tmp_path / f"{name}.jsonl"
        args = ["simulate", "--journeys", str(journeys), "--templates", str(REPO / "templates")]
        assert (
            main(
                [
                    *args,
                    "--events",
                    str(REPO / "examples/events.jsonl"),
                    "--out",
                    str(tmp_path / "out"),
                    "--dump-profiles",
                    str(dump),
                ]
            )
            == 0
        )
        states = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
        runs[name] = {s["customer_id"]: s["profile"] for s in states}
    figures = load_figures(figures_file)
    buyer = runs["fitted"]["M1003"]  # two orders
    as_of = datetime.fromisoformat(buyer["last_event_at"])
    times = sorted(datetime.fromisoformat(o["time"]) for o in buyer["order_log"])
    history = forecast.history(times, [o["amount"] for o in buyer["order_log"]], as_of)
    assert history is not None
    assert buyer["churn_risk"] == round(forecast.churn_risk(history, figures), 4)
    assert buyer["churn_risk"] != runs["priors"]["M1003"]["churn_risk"]
