"""`make demo`'s command, end to end: embedded servers, a worker, the example events."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.fixtures.servers import REPO

pytestmark = pytest.mark.integration


def test_the_demo_prints_the_actions_and_agrees_with_the_dry_run(kafka_bootstrap: str, redis_url: str) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "REDIS_URL": redis_url}
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "demo", "--timeout", "60"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "→ wecom_private  M1001    王女士" in out
    assert "✗ DLQ  invalid JSON" in out
    summary = re.search(r"actions: (\d+) .*expected by dry run: (\d+); missing: 0; unexpected: 0", out)
    assert summary is not None, out
    assert summary.group(1) == summary.group(2) != "0"
    assert "← message.replied    M1007" in out  # a reference channel worker's receipt came back
    assert "→ task           M1007" in out  # and moved replenish's wait_reply on to the follow-up task
    assert re.search(r"receipts: \d+ \(message\.delivered × \d+, message\.replied × \d+\)", out), out
    assert "OK in" in out
    assert re.search(r"journey log: [1-9]\d* record\(s\) kept in ", out), out  # for orchestrator report
