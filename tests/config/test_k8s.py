"""deploy/k8s agrees with itself, with Settings and with the shipped journeys and templates.

Kubernetes does not run here: the manifests are parsed and cross-checked, the ConfigMap
generator runs over the repository's folders, and the init container's script (the one in
the Deployment, run by sh) rebuilds the template tree from which the config must load.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.config.catalog import load_config
from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
LABELS = {"app.kubernetes.io/name": "xo-journeys", "app.kubernetes.io/component": "worker"}
# Names the worker reads that are not Settings fields: none today. Everything else must be one.
EXTRA_ENV: set[str] = set()


def _generate(journeys: Path, templates: Path) -> subprocess.CompletedProcess[bytes]:
    """The ConfigMap generator as an operator runs it."""
    argv = [sys.executable, str(K8S / "configmaps.py"), str(journeys), str(templates)]
    return subprocess.run(argv, capture_output=True, check=False)  # noqa: S603 - the repository's own script


def _documents() -> dict[str, dict[str, Any]]:
    """Every manifest of the kustomization by kind."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    by_kind: dict[str, dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for document in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")):
            assert document["kind"] not in by_kind, f"{name}: a second {document['kind']}"
            by_kind[document["kind"]] = document
    return by_kind


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return _documents()


def _pod(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pod: dict[str, Any] = manifests["Deployment"]["spec"]["template"]["spec"]
    return pod


def _worker(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    [container] = [c for c in _pod(manifests)["containers"] if c["name"] == "worker"]
    return container


def _env(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_kustomization_holds_a_deployment_a_service_and_a_disruption_budget(
    manifests: dict[str, dict[str, Any]],
) -> None:
    assert set(manifests) == {"Deployment", "Service", "PodDisruptionBudget"}
    deployment = manifests["Deployment"]
    assert deployment["spec"]["selector"]["matchLabels"] == LABELS
    assert deployment["spec"]["template"]["metadata"]["labels"] == LABELS
    assert manifests["Service"]["spec"]["selector"] == LABELS
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == LABELS
    assert manifests["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_workers_environment_is_made_of_settings_and_they_accept_it(manifests: dict[str, dict[str, Any]]) -> None:
    env = _env(_worker(manifests))
    known = {name.upper() for name in Settings.model_fields} | EXTRA_ENV
    assert set(env) <= known, sorted(set(env) - known)
    assert env["REDIS_URL"] is None  # from the Secret, not written in the manifest
    values = {k.lower(): v for k, v in env.items() if v is not None}
    settings = Settings(**values, redis_url="redis+cluster://redis:6379")  # type: ignore[arg-type]
    assert settings.xo_web_host == "0.0.0.0"  # noqa: S104 - the pod's port must be reachable by probes
    assert settings.xo_replication_factor == 3
    assert settings.xo_partitions >= manifests["Deployment"]["spec"]["replicas"]  # every worker can get a partition


def test_probes_and_the_metrics_service_point_at_the_workers_web_port(manifests: dict[str, dict[str, Any]]) -> None:
    worker = _worker(manifests)
    port = int(_env(worker)["XO_WEB_PORT"] or 0)
    [named] = worker["ports"]
    assert named["containerPort"] == port
    for probe, path in [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
        assert worker[probe]["httpGet"] == {"path": path, "port": named["name"]}, probe
    [service_port] = manifests["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == named["name"]
    assert manifests["Service"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert manifests["Service"]["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"


def test_resources_security_and_the_shutdown_grace(manifests: dict[str, dict[str, Any]]) -> None:
    pod, worker = _pod(manifests), _worker(manifests)
    assert {"cpu", "memory"} <= set(worker["resources"]["requests"])
    assert "cpu" not in worker["resources"].get("limits", {})  # throttling would stall heartbeats
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] > 30  # above the worker's own bound (below 30 s)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    images = {c["image"] for c in [*pod["containers"], *pod["initContainers"]]}
    assert images == {f"xo-journeys:{version}"}
    mounts = {m["mountPath"]: m["name"] for m in worker["volumeMounts"]}
    env = _env(worker)
    assert mounts[str(env["XO_JOURNEYS_DIR"])] == "journeys"
    assert mounts[str(env["XO_TEMPLATES_DIR"])] == "templates"
    assert mounts[str(env["XO_DATA_DIR"])] == "data"  # the root filesystem is read-only
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["journeys"]["configMap"]["name"] == "xo-journeys"
    assert volumes["flat-templates"]["configMap"]["name"] == "xo-templates"


def test_the_configmaps_carry_the_shipped_journeys_and_templates_and_the_worker_loads_them(
    manifests: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = _generate(ROOT / "journeys", ROOT / "templates")
    assert out.returncode == 0, out.stderr
    maps = {m["metadata"]["name"]: m["data"] for m in json.loads(out.stdout)["items"]}
    journeys, flat = tmp_path / "journeys", tmp_path / "flat-templates"
    for folder, data in [(journeys, maps["xo-journeys"]), (flat, maps["xo-templates"])]:
        folder.mkdir()
        for key, text in data.items():
            (folder / key).write_text(text, encoding="utf-8")
    # The init container's own script, with its mount paths pointed into the test's folder.
    [init] = _pod(manifests)["initContainers"]
    script = init["command"][-1].replace("/flat-templates", str(flat)).replace("/templates", str(tmp_path / "tree"))
    subprocess.run(["sh", "-c", script], check=True)  # noqa: S603, S607 - the manifest's script, run by sh
    tree = tmp_path / "tree"
    shipped = sorted(p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*") if p.is_file())
    assert sorted(p.relative_to(tree) for p in tree.rglob("*") if p.is_file()) == shipped
    assert all((tree / p).read_bytes() == (ROOT / "templates" / p).read_bytes() for p in shipped)
    config = load_config(journeys, tree)
    assert config.world().journeys


def test_the_generator_refuses_names_a_configmap_cannot_hold(tmp_path: Path) -> None:
    (tmp_path / "journeys").mkdir()
    (tmp_path / "templates" / "a").mkdir(parents=True)
    (tmp_path / "templates" / "a" / "bad name.j2").write_text("x", encoding="utf-8")
    done = _generate(tmp_path / "journeys", tmp_path / "templates")
    assert done.returncode == 1
    assert b"bad name.j2: the name cannot be a ConfigMap key" in done.stderr
