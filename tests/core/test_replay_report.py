"""The data-set report's parts on small known inputs: the file reader, the replay driver, the measures."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.predictive import metrics
from bench.predictive.data import as_events, read_purchases
from bench.predictive.replay import Replay, settings, world

CDNOW_LINES = """\
 customer_id  date number_of_cds  dollar_value
 00001 19970101  1   11.77
 00002 19970112  1   12.00
 00002 19970112  5   77.00
 00003 19970102  2   20.76
 00003 19970330  2   20.76
 00003 19970402  2   19.54
 00003 19971115  5   57.45
"""


def test_the_cdnow_format_is_read_and_becomes_orders(tmp_path: Path) -> None:
    path = tmp_path / "CDNOW_master.txt"
    path.write_text(CDNOW_LINES, encoding="utf-8")
    purchases = read_purchases(path)
    assert [(p.customer, p.day, p.cds, p.dollars) for p in purchases[:2]] == [
        ("00001", date(1997, 1, 1), 1, 11.77),
        ("00002", date(1997, 1, 12), 1, 12.0),
    ]
    events = as_events(purchases)
    assert [e.data["order_id"] for e in events[1:3]] == ["00002-1", "00002-2"]
    assert events[2].data["items"] == [{"sku": "CD", "category": "cd", "qty": 5, "name": "CD"}]
    assert events[2].time == datetime(1997, 1, 12, 12, tzinfo=UTC)


def test_the_replay_fires_timers_and_keeps_the_calibration_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "CDNOW_master.txt"
    path.write_text(CDNOW_LINES, encoding="utf-8")
    cutoff = datetime(1997, 6, 1, tzinfo=UTC)
    replay = Replay(world(settings(7)), cutoff).run(as_events(read_purchases(path)), datetime(1998, 1, 1, tzinfo=UTC))
    assert set(replay.at_calibration) == {"00001", "00002", "00003"}
    assert replay.at_calibration["00003"].orders == 3  # the November order is after the split
    stages = [(h.customer_id, h.evidence["to"]) for h in replay.hits if h.scenario == "lifecycle.changed"]
    assert ("00003", "loyal") in stages
    assert ("00001", "churned") in stages  # time passed without orders: the timers fired
    assert replay.inputs > 7


@pytest.mark.parametrize(
    ("scores", "positives", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [False, False, True, True], 1.0),
        ([0.1, 0.2, 0.8, 0.9], [True, True, False, False], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [True, False, True, False], 0.5),
        ([0.1, 0.4, 0.35, 0.8], [False, False, True, True], 0.75),
    ],
)
def test_auc(scores: list[float], positives: list[bool], expected: float) -> None:
    assert metrics.auc(scores, positives) == expected


def test_auc_without_both_classes_is_undefined() -> None:
    assert math.isnan(metrics.auc([0.1, 0.2], [True, True]))


def test_rates_and_deciles() -> None:
    groups = metrics.rates([("a", True), ("b", False), ("a", False), ("a", True)], order=("b", "a"))
    assert [(g.name, g.customers, round(g.rate, 3)) for g in groups] == [("b", 1, 0.0), ("a", 3, 0.667)]
    tenths = metrics.deciles([float(i) for i in range(100)], [i >= 50 for i in range(100)])
    assert tenths[0] == (0.0, 9.0, 0.0)
    assert tenths[-1] == (90.0, 99.0, 1.0)


def test_alarm_precision_recall_and_base_rate() -> None:
    bought = {"c1": [date(2020, 1, 20), date(2020, 3, 1)], "c2": [date(2020, 2, 15)]}
    raised = {"c1": [date(2020, 1, 10), date(2020, 2, 1)], "c2": [date(2020, 1, 5)]}
    found = metrics.alarms(raised, bought, (date(2020, 1, 1), date(2020, 2, 10)), 30)
    # c1's alarms: 10 Jan → bought 20 Jan (yes), 1 Feb → 1 Mar (29 days, yes); c2's 5 Jan → 15 Feb (41 days, no).
    assert (found.alarms, round(found.precision, 3)) == (3, 0.667)
    # Purchases from 31 Jan to 11 Mar: c1's 1 Mar (alarm 1 Feb, caught), c2's 15 Feb (no alarm within 30 days).
    assert (found.purchases, found.recall) == (2, 0.5)
    assert 0 < found.base_rate < 1
    assert found.lift == found.precision / found.base_rate
