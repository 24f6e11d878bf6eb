"""Grafana provisioning, the dashboard and the alert rules agree with docker-compose.yml and each other.

promtool and a live worker check the queries themselves (tests/e2e/test_stream_health.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    return {target: (ROOT / source).resolve() for source, target, *_ in (str(v).split(":") for v in service["volumes"])}


def test_grafana_is_provisioned_with_the_stacks_prometheus_and_the_dashboard() -> None:
    services = _yaml(ROOT / "docker-compose.yml")["services"]
    grafana = services["grafana"]
    mounts = _mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == (GRAFANA / "provisioning").resolve()
    [source] = _yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    assert any(str(p).endswith(":9090:9090") for p in services["prometheus"]["ports"])
    [provider] = _yaml(GRAFANA / "provisioning" / "dashboards" / "xo-journeys.yml")["providers"]
    assert mounts[provider["options"]["path"]] == (GRAFANA / "dashboards").resolve()
    dashboard = json.loads((GRAFANA / "dashboards" / "xo-journeys.json").read_text(encoding="utf-8"))
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("throughput", "lag", "latency", "dead letters", "suppressed", "step failures", "funnel", "arm"):
        assert topic in titles, topic


def test_prometheus_loads_the_rules_the_tests_cover() -> None:
    config = _yaml(ROOT / "deploy" / "prometheus.yml")
    mounts = _mounts(_yaml(ROOT / "docker-compose.yml")["services"]["prometheus"])
    [rules] = config["rule_files"]
    in_container = Path("/etc/prometheus") / rules
    assert mounts[str(in_container.parent)] / in_container.name == (ROOT / "deploy" / rules).resolve()
    assert (ROOT / "deploy" / rules).is_file()
    tested = _yaml(ROOT / "deploy" / "prometheus" / "alerts.test.yml")
    alerts = {r["alert"] for g in _yaml(ROOT / "deploy" / rules)["groups"] for r in g["rules"]}
    covered = {case["alertname"] for t in tested["tests"] for case in t["alert_rule_test"]}
    assert alerts == covered  # every alert has a unit test
