"""The report's counts against a simulated population whose true arms and conversions are known."""

from __future__ import annotations

from orchestrator.analytics.reader import Log, Window, read_lines
from orchestrator.analytics.report import JourneyReport, build
from orchestrator.service.simulate import Simulation
from tests.analytics.population import START, Truth, run


def _report(size: int, window: Window | None = None) -> tuple[JourneyReport, Truth, Simulation]:
    sim, truth = run(size)
    log = Log()
    read_lines(log, "sim", sim.log, window or Window())
    [report] = build(log)
    return report, truth, sim


def test_arm_sizes_and_conversions_are_the_true_ones() -> None:
    report, truth, _ = _report(600)
    [split] = report.splits
    assert split.step == "offer"
    assert split.baseline == "holdout"
    assert [a.arm for a in split.arms] == ["holdout", "A", "B"]
    assert {a.arm: a.customers for a in split.arms} == truth.customers
    assert {a.arm: a.conversions for a in split.arms} == truth.conversions
    assert report.entered == report.customers == 600
    assert report.converted == sum(truth.conversions.values())
    b = next(a for a in split.arms if a.arm == "B")
    assert b.significant  # half of B converts, a fifth of the holdout: plain at these sizes
    assert b.lift is not None
    assert b.lift > 1


def test_the_funnel_follows_the_arms() -> None:
    report, truth, sim = _report(300)
    steps = {s.step: s for s in report.steps}
    assert list(steps)[:2] == ["hello", "offer"]
    assert steps["done"].reached == truth.customers["A"] + truth.customers["B"]
    assert (steps["hello"].reached, steps["hello"].sent) == (300, 300)
    assert steps["offer"].reached == 300
    assert (steps["a"].reached, steps["a"].sent, steps["a"].goal) == (truth.customers["A"],) * 2 + (
        truth.conversions["A"],
    )
    assert (steps["b"].sent, steps["b"].goal) == (truth.customers["B"], truth.conversions["B"])
    assert steps["hello"].goal == sum(truth.conversions.values())
    treated = truth.customers["A"] + truth.customers["B"]
    assert report.exits == {"completed": treated, "holdout": truth.customers["holdout"]}
    assert len(sim.actions) == 300 + truth.customers["A"] + truth.customers["B"]


def test_receipts_fill_the_delivered_clicked_and_replied_columns() -> None:
    sim, _ = run(40)
    log = Log()
    read_lines(log, "sim", sim.log)
    hello = [a.action_id for a in sim.actions if a.journey.step == "hello"]
    receipts = [
        *(b'{"type":"message.delivered","data":{"action_id":"%s"}}' % a.encode() for a in hello[:30]),
        *(b'{"type":"message.clicked","data":{"action_id":"%s"}}' % a.encode() for a in hello[:12]),
        *(b'{"type":"message.replied","data":{"action_id":"%s"}}' % a.encode() for a in hello[:5]),
        b'{"type":"message.replied","data":{"action_id":"unknown"}}',
    ]
    read_lines(log, "events", receipts)
    [report] = build(log)
    hello_row = report.steps[0]
    assert (hello_row.sent, hello_row.delivered, hello_row.clicked, hello_row.replied) == (40, 30, 12, 5)


def test_a_window_keeps_only_records_inside_it() -> None:
    report, _, _ = _report(100, Window(since=START, until=START.replace(minute=49)))
    assert report.entered == 50  # one customer a minute from START
    assert report.converted == 0  # their orders came two days later
