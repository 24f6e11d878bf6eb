"""The channel worker's exposition: one prefix, base units, _total counters, no per-customer labels."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.adapters.metrics import ChannelMetrics


def _exposition() -> bytes:
    metrics = ChannelMetrics()
    metrics.sent.labels("sms").inc()
    metrics.deduplicated.labels("sms").inc()
    metrics.expired.labels("sms").inc()
    metrics.failed.labels("sms", "unreachable").inc()
    metrics.retries.labels("sms").inc()
    metrics.receipts.labels("sms", "message.delivered").inc()
    metrics.latency.labels("sms").observe(0.2)
    metrics.held.labels("sms", "held").inc()
    return metrics.exposition()


def test_names_labels_and_units_follow_the_conventions() -> None:
    families = [f for f in text_string_to_metric_families(_exposition().decode()) if not f.name.endswith("_created")]
    names = {f.name for f in families}
    assert names == {
        "xo_channel_sent",
        "xo_channel_deduplicated",
        "xo_channel_expired",
        "xo_channel_failed",
        "xo_channel_retries",
        "xo_channel_receipts",
        "xo_channel_send_seconds",
        "xo_channel_held",
    }
    for family in families:
        for sample in family.samples:
            assert set(sample.labels) <= {"channel", "reason", "type", "outcome", "le"}, sample
            if family.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name


@pytest.mark.slow
def test_promtool_accepts_the_exposition() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian prometheus) is installed by .ci/system-packages"
    result = subprocess.run(  # noqa: S603 - promtool from PATH, on our own exposition
        [promtool, "check", "metrics"], input=_exposition(), capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
