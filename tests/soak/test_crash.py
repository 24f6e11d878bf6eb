"""The crash harness (``bench/crash_test.py``), small enough for CI: a worker SIGKILLed twice
while 2k events for 200 customers stream through it, then every expected action checked."""

from __future__ import annotations

import pytest

from bench.crash_test import Options, run

pytestmark = pytest.mark.integration


def test_a_worker_killed_at_random_moments_loses_nothing_and_never_sends_two_different_actions(
    kafka_bootstrap: str, redis_url: str
) -> None:
    progress: list[str] = []
    options = Options(events=2_000, customers=200, kills=2, seed=7, rate=100.0, timeout=60.0)
    report = run(options, kafka_bootstrap, redis_url, out=progress.append)
    summary = "\n".join([*progress, *report.lines()])
    assert report.kills == 2, summary
    assert report.expected_actions == 600, summary
    assert report.missing == 0, summary
    assert report.unexpected == 0, summary
    assert report.divergent == 0, summary
    assert report.distinct_action_ids == 600, summary
    assert report.actions_seen == report.distinct_action_ids + report.republished, summary
    assert report.dead_letters == 0, summary
    assert report.pending_outbox == 0, summary
    # The kills did interrupt work: waits that came due while a worker was down (a restart takes
    # seconds) fired late. (Redelivered inputs are not a sign of it any more: offsets are
    # committed after every batch, so a kill replays a batch only when it lands inside one.)
    assert any(overrun > 3.0 for overrun in report.wait_overruns), summary
    assert report.ok, summary
