"""Stream health on a live worker: promtool checks its exposition, every series the dashboard and
the alert rules query exists there, and a real Prometheus server scrapes it and answers a query.

Needs the Debian package ``prometheus`` (promtool and the server): ``make test-slow``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.embedded import free_port
from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.fixtures.servers import CONFIG

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "xo-journeys.json"
NOW = datetime.now(tz=UTC)
TIMEOUT = 90.0
# Series Prometheus makes itself, and PromQL words that look like names.
NOT_EXPOSED = {"up", "by", "on", "le", "and", "sum", "max", "rate", "increase", "deriv", "histogram_quantile"}


def _event(id_: str, member: str, type_: str, days_ago: float, data: dict[str, object], **identity: str) -> bytes:
    when = (NOW - timedelta(days=days_ago)).isoformat()
    return orjson.dumps(
        {"id": id_, "type": type_, "time": when, "identity": {"member_id": member, **identity}, "data": data}
    )


def _order(id_: str, member: str, days_ago: float) -> bytes:
    return _event(
        id_, member, "order.paid", days_ago, {"order_id": f"O-{id_}", "items": [{"sku": "PRO-900", "qty": 1}]}
    )


@dataclass
class Live:
    worker: WorkerProcess
    exposition: str


def _exposition(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def _wait(condition: object, what: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        assert worker.alive(), worker.log_tail()
        time.sleep(0.2)  # polling a scrape endpoint: there is nothing to await
    raise AssertionError(f"timed out waiting for {what}\n{worker.log_tail()}")


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topics = Topics(prefix)
    names = [topics.events, topics.by_customer, topics.actions("wecom_private"), topics.scenarios, topics.dlq]
    ensure_topics(kafka_bootstrap, dict.fromkeys([*names, topics.journey_log], 2), {})
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": prefix,
        "XO_PARTITIONS": "2",
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_CONTACT_POLICY": "off",
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": str(tmp_path_factory.mktemp("worker")),
        "XO_JOURNEYS_DIR": str(CONFIG / "journeys"),
        "XO_TEMPLATES_DIR": str(CONFIG / "templates"),
    }
    worker = WorkerProcess(env).start()
    watcher = TopicWatcher(kafka_bootstrap, [topics.actions("wecom_private")], {})
    try:
        histories = {
            "M1": [
                _event("a1", "M1", "customer.registered", 40, {"name": "王女士"}, wecom_external_id="wm1"),
                _order("a2", "M1", 27),
            ],
            "M5": [_order("b1", "M5", 27)],  # no WeCom id: the reminder step fails
            "M6": [
                _event("c1", "M6", "customer.registered", 40, {"name": "陈女士"}, wecom_external_id="wm6"),
                _event("c2", "M6", "consent.changed", 30, {"channel": "wecom_private", "granted": False}),
                _order("c3", "M6", 27),  # no consent: suppressed
            ],
            "bad": [b"not json", _event("d1", "M7", "x.custom", 1, {})],  # a dead letter, an undeclared type
        }
        for member, records in histories.items():
            produce(kafka_bootstrap, topics.events, records, {}, key=member)
        assert watcher.wait_for(lambda got: len(got) >= 1, TIMEOUT, alive=worker.alive), worker.log_tail()
        # The goal: an order placed now, after the journey began (one dated before it is not its goal).
        now_days_ago = (NOW - datetime.now(tz=UTC)).total_seconds() / 86_400
        produce(kafka_bootstrap, topics.events, [_order("a3", "M1", now_days_ago)], {}, key="M1")
        _wait(lambda: "xo_journey_conversions_total{" in _exposition(worker.web_port), "a conversion", worker)
        _wait(lambda: "xo_consumer_lag{" in _exposition(worker.web_port), "consumer lag", worker)
        yield Live(worker, _exposition(worker.web_port))
    finally:
        watcher.close()
        worker.stop()


def test_promtool_accepts_the_exposition(live: Live) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "the Debian package prometheus is needed for this test"
    command = [promtool, "check", "metrics"]
    result = subprocess.run(command, input=live.exposition.encode(), capture_output=True, check=False)  # noqa: S603 - fixed command
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def _samples(exposition: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return found


def test_the_stream_health_figures_are_there(live: Live) -> None:
    samples = _samples(live.exposition)
    assert samples["xo_timer_lateness_seconds_count"][()] >= 3  # three cycle timers fired, all late by days
    assert samples["xo_timer_lateness_seconds_bucket"][(("le", "3600.0"),)] == 0
    steps = samples["xo_journey_steps_total"]
    assert steps[(("journey", "replenish"), ("step", "remind"), ("variant", "none"), ("version", "1"))] == 3
    assert samples["xo_events_total"][(("type", "other"),)] == 1
    lag_topics = {dict(labels)["topic"].split(".", 1)[1] for labels in samples["xo_consumer_lag"]}
    assert lag_topics
    assert lag_topics <= {"events", "events.by-customer"}  # input topics only, one series per partition
    for standard in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"):
        assert standard in samples


def _queried_series() -> set[str]:
    expressions = [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    expressions += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    expressions += [v["definition"] for v in dashboard["templating"]["list"]]
    names = {
        n
        for e in expressions
        for n in re.findall(r"\b([a-z_]+(?:_total|_bucket|_seconds|_bytes|_lag|_due)?)\b(?=[{\[)\s,])", e)
    }
    return {n for n in names if n.startswith(("xo_", "process_", "python_"))} | {n for n in names if n in {"up"}}


def test_every_series_the_dashboard_and_the_rules_query_is_exposed(live: Live) -> None:
    queried = _queried_series()
    assert {"xo_consumer_lag", "xo_timer_lateness_seconds_bucket", "xo_journey_steps_total"} <= queried
    missing = sorted(n for n in queried - NOT_EXPOSED if n not in _samples(live.exposition))
    assert missing == []


def test_a_real_prometheus_scrapes_the_worker_and_answers(live: Live, tmp_path: Path) -> None:
    server = shutil.which("prometheus")
    assert server, "the Debian package prometheus is needed for this test"
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "xo-journeys", "static_configs": [{"targets": [f"127.0.0.1:{live.worker.web_port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - fixed command line
        [
            server,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        query = 'sum(xo_actions_total{job="xo-journeys"})'
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        deadline = time.monotonic() + TIMEOUT
        result: list[dict[str, object]] = []
        while time.monotonic() < deadline and not result:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    result = json.loads(response.read())["data"]["result"]
            except OSError:
                pass  # not listening yet
            if not result:
                time.sleep(0.5)  # the next scrape is at most a second away
        assert result, (tmp_path / "prometheus.log").read_text()[-3000:]
        assert float(result[0]["value"][1]) == 1.0  # M1's reminder (M5 failed, M6 was suppressed)
        rules_url = f"http://127.0.0.1:{port}/api/v1/rules"
        with urllib.request.urlopen(rules_url, timeout=5) as response:
            groups = json.loads(response.read())["data"]["groups"]
        assert {r["name"] for g in groups for r in g["rules"]} >= {"XoDeadLetters", "XoStepFailures", "XoTimersLate"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "the Debian package prometheus is needed for this test"
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULES.with_name("alerts.test.yml"))]):
        result = subprocess.run([promtool, *args], capture_output=True, check=False)  # noqa: S603 - fixed command
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
