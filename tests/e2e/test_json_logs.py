"""XO_LOG_FORMAT=json: every line a worker writes is one JSON object, faust's and aiokafka's
included; a step failure and a dead letter are logged once each, with ids and no PII."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.logs import json_config
from orchestrator.service.topics import Topics
from tests.integration.workers import action_ids, create_topics, diagnose, event, output_topics, worker_env

pytestmark = pytest.mark.integration
TIMEOUT = 60.0
NAME, PHONE = "Zhang Sanfeng", "+86-13800138000"


def _no_wecom(cid: str, now: datetime) -> list[bytes]:
    """A customer whose PRO-900 runs out but who has no WeCom id: the first send step fails."""
    order = {"order_id": f"O-{cid}", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}
    return [
        event(f"{cid}-reg", cid, "customer.registered", now - timedelta(days=40), {"name": NAME}, phone=PHONE),
        event(f"{cid}-order", cid, "order.paid", now - timedelta(days=27), order),
    ]


def _records(worker: WorkerProcess) -> list[dict[str, object]]:
    lines = worker.log_path.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines]  # every line, or the test fails here


def test_a_json_worker_writes_only_json_and_logs_a_step_failure_once(
    kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    topics = Topics(prefix)
    create_topics(kafka_bootstrap, topics, 2)
    env = {
        **worker_env(kafka_bootstrap, redis_url, prefix, tmp_path, 2),
        "XO_LOG_FORMAT": "json",
        "XO_CONTACT_POLICY": "off",
    }
    watcher = TopicWatcher(kafka_bootstrap, output_topics(topics), {})
    worker = WorkerProcess(env).start()
    try:
        now = datetime.now(tz=UTC)
        produce(kafka_bootstrap, topics.events, _no_wecom("J1", now), {}, key="J1")
        produce(kafka_bootstrap, topics.events, [b"{not json"], {}, key="J1")

        def logged() -> bool:
            kinds = [r.get("kind") for r in _records(worker)]
            return "step_failure" in kinds and "dead_letter" in kinds

        assert watcher.wait_for(lambda _: logged(), TIMEOUT, alive=worker.alive), diagnose(worker)
        assert not action_ids(watcher)
    finally:
        code = worker.stop()
        watcher.close()
    assert code == 0
    records = _records(worker)
    assert all({"timestamp", "level", "logger", "event"} <= set(r) for r in records)
    [failure] = [r for r in records if r.get("kind") == "step_failure"]
    assert failure["customer_id"] == "J1"
    assert (failure["journey"], failure["step"], failure["level"]) == ("wait_and_send", "first", "warning")
    assert "wecom" in str(failure["reason"]).lower()
    [letter] = [r for r in records if r.get("kind") == "dead_letter"]
    assert letter["reason"] == "json"
    assert str(letter["where"]).startswith(f"{topics.events}[")
    # faust's own records are there too, as JSON, without their tables.
    assert any(str(r["logger"]).startswith("faust") for r in records)
    assigned = [r for r in records if "Setting newly assigned partitions" in str(r["event"])]
    assert assigned
    assert all("┌" not in str(r["event"]) and "|" not in str(r["event"]) for r in assigned)
    [ours] = [r for r in records if r.get("kind") == "assignment"][-1:]
    owned = ours["partitions"]
    assert isinstance(owned, dict)
    assert sorted(owned[topics.by_customer]) == [0, 1]
    text = worker.log_path.read_text()
    assert NAME not in text
    assert PHONE not in text


def test_json_config_renders_foreign_records_with_their_fields(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.config.dictConfig(json_config("info"))
    try:
        table = "Setting newly assigned partitions:\n┌Topic Partition Set──┐\n│ t │ {0-1} │\n└──────┘ for group x"
        logging.getLogger("faust.test").info(table)
        logging.getLogger("orchestrator.test").warning("step failed", extra={"customer_id": "C1", "step": "s"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("orchestrator.test").exception("crashed")
    finally:  # the JSON handler writes to this test's captured stderr: put the test session's back
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [r["event"] for r in lines[:2]] == ["Setting newly assigned partitions:", "step failed"]
    assert (lines[1]["customer_id"], lines[1]["step"], lines[1]["level"]) == ("C1", "s", "warning")
    assert "ValueError: boom" in lines[2]["exception"]
