"""A running worker takes a changed journey set without a restart, and refuses an invalid one.

The worker watches copies of the test journeys (polling every 0.2 s). Version 2 of the
journey is written with an ``active_from`` a few seconds ahead: once the worker has loaded it,
a customer processed before that instant still enters version 1, one processed after it enters
version 2, and a customer already waiting in version 1 finishes there. Then an invalid file is
written: the worker logs it by file and line, counts it refused, and keeps running version 2.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.harness import Received, TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.integration.workers import (
    JOURNEYS,
    TEMPLATES,
    actions,
    create_topics,
    customer_events,
    diagnose,
    output_topics,
    worker_env,
)

pytestmark = pytest.mark.integration
TIMEOUT = 60.0
SWITCH_AHEAD = timedelta(seconds=12)  # the reload happens well before the switch
TEMPLATE_V2 = "版本二：{{ profile.name or '您好' }}\n"
V2 = """\
id: wait_and_send
name: test · version 2 from an instant
version: 2
active_from: {at}
trigger: {{scenario: consumption_cycle_ending}}
steps:
  - id: first
    send: {{channel: wecom_private, template: wait_and_send/first_v2.j2}}
"""
BROKEN = """\
id: broken
name: a typo in a channel
version: 1
trigger: {scenario: consumption_cycle_ending}
steps:
  - id: first
    send: {channel: wecom_privat, template: wait_and_send/first.j2}
"""


def _versions(received: list[Received], cid: str) -> list[tuple[int, str]]:
    found = []
    for record in actions(received):
        journey = record.value["journey"]
        if record.value["customer_id"] == cid and isinstance(journey, dict):
            found.append((int(journey["version"]), str(journey["step"])))
    return found


def _count(worker: WorkerProcess, outcome: str) -> float:
    return worker.metrics().get(f'xo_journey_reloads_total{{outcome="{outcome}"}}', 0.0)


def _live_set(worker: WorkerProcess) -> str | None:
    digests = [k for k, v in worker.metrics().items() if k.startswith("xo_journey_set_info{") and v == 1]
    return digests[0] if len(digests) == 1 else None


def test_a_changed_journey_set_goes_live_at_its_instant_and_an_invalid_one_is_refused(
    kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    journeys, templates = tmp_path / "journeys", tmp_path / "templates"
    shutil.copytree(JOURNEYS, journeys)
    shutil.copytree(TEMPLATES, templates)
    topics = Topics(prefix)
    create_topics(kafka_bootstrap, topics, 1)
    watcher = TopicWatcher(kafka_bootstrap, output_topics(topics), {})
    env = {
        **worker_env(kafka_bootstrap, redis_url, prefix, tmp_path, 1),
        "XO_JOURNEYS_DIR": str(journeys),
        "XO_TEMPLATES_DIR": str(templates),
        "XO_RELOAD_INTERVAL_S": "0.2",
    }
    worker = WorkerProcess(env).start()
    try:
        now = datetime.now(tz=UTC)
        produce(kafka_bootstrap, topics.events, customer_events("A", now), {}, key="A")
        assert watcher.wait_for(lambda got: bool(_versions(got, "A")), TIMEOUT, alive=worker.alive), diagnose(worker)
        first_set = _live_set(worker)
        assert first_set is not None

        switch = datetime.now(tz=UTC) + SWITCH_AHEAD
        (templates / "wait_and_send" / "first_v2.j2").write_text(TEMPLATE_V2, encoding="utf-8")
        (journeys / "wait_and_send_v2.yaml").write_text(V2.format(at=switch.isoformat()), encoding="utf-8")
        assert _until(lambda: _count(worker, "applied") >= 1), diagnose(worker)
        assert datetime.now(tz=UTC) < switch - timedelta(seconds=4), "the reload took too long to test the instant"
        assert _live_set(worker) not in (None, first_set)

        # Loaded, but not yet in force: a new customer still enters version 1.
        produce(kafka_bootstrap, topics.events, customer_events("B", now), {}, key="B")
        assert watcher.wait_for(lambda got: bool(_versions(got, "B")), TIMEOUT, alive=worker.alive), diagnose(worker)
        assert datetime.now(tz=UTC) < switch, "B was processed after the switch: the check proves nothing"
        assert _versions(watcher.received, "B") == [(1, "first")]

        time.sleep(max(0.0, (switch - datetime.now(tz=UTC)).total_seconds()))  # the instant itself is the subject
        produce(kafka_bootstrap, topics.events, customer_events("C", now), {}, key="C")
        assert watcher.wait_for(lambda got: bool(_versions(got, "C")), TIMEOUT, alive=worker.alive), diagnose(worker)
        assert _versions(watcher.received, "C") == [(2, "first")]
        c_text = next(r.value["content"] for r in actions(watcher.received) if r.value["customer_id"] == "C")
        assert "版本二" in str(c_text)
        # A and B were waiting in version 1 and finish there.
        done = lambda got: len(_versions(got, "A")) == 2 and len(_versions(got, "B")) == 2  # noqa: E731
        assert watcher.wait_for(done, TIMEOUT, alive=worker.alive), diagnose(worker)
        assert _versions(watcher.received, "A") == _versions(watcher.received, "B") == [(1, "first"), (1, "second")]

        live = _live_set(worker)
        (journeys / "broken.yaml").write_text(BROKEN, encoding="utf-8")
        assert _until(lambda: _count(worker, "refused") >= 1), diagnose(worker)
        log = worker.log_path.read_text(errors="replace")
        assert re.search(rf"{re.escape(str(journeys / 'broken.yaml'))}:7:\d+: steps\[0\]\.send\.channel: ", log), log[
            -3000:
        ]
        assert "stays live" in log
        assert _live_set(worker) == live
        assert _count(worker, "applied") == 1
        produce(kafka_bootstrap, topics.events, customer_events("D", now), {}, key="D")
        assert watcher.wait_for(lambda got: bool(_versions(got, "D")), TIMEOUT, alive=worker.alive), diagnose(worker)
        assert _versions(watcher.received, "D") == [(2, "first")]
        assert worker.alive()
    finally:
        worker.stop()
        watcher.close()


def _until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _journeys_ready(worker: WorkerProcess) -> str:
    """What /readyz says of the journey set ("N journey(s) loaded"); empty while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/readyz", timeout=5) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    except OSError:
        return ""
    return str(json.loads(body)["checks"]["config"]["detail"])


def test_with_polling_off_sighup_loads_the_changed_set(
    kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    journeys, templates = tmp_path / "journeys", tmp_path / "templates"
    shutil.copytree(JOURNEYS, journeys)
    shutil.copytree(TEMPLATES, templates)
    topics = Topics(prefix)
    create_topics(kafka_bootstrap, topics, 1)
    env = {
        **worker_env(kafka_bootstrap, redis_url, prefix, tmp_path, 1),
        "XO_JOURNEYS_DIR": str(journeys),
        "XO_TEMPLATES_DIR": str(templates),
        "XO_RELOAD_INTERVAL_S": "0",
    }
    worker = WorkerProcess(env).start()
    try:
        assert _until(lambda: "on SIGHUP" in worker.log_path.read_text(errors="replace")), diagnose(worker)
        first_set = _live_set(worker)
        before = _journeys_ready(worker)
        loaded = int(before.split()[0]) if before.endswith("journey(s) loaded") else -1
        assert loaded > 0, before
        (templates / "wait_and_send" / "first_v2.j2").write_text(TEMPLATE_V2, encoding="utf-8")
        (journeys / "wait_and_send_v2.yaml").write_text(V2.format(at="2026-01-01T00:00:00+08:00"), encoding="utf-8")
        assert not _until(lambda: _count(worker, "applied") >= 1, timeout=2.0)  # polling is off
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGHUP)
        assert _until(lambda: _count(worker, "applied") >= 1), diagnose(worker)
        assert _live_set(worker) not in (None, first_set)
        assert _journeys_ready(worker) == f"{loaded + 1} journey(s) loaded"  # /readyz follows the live set
        assert worker.alive()
    finally:
        worker.stop()
