"""docker-compose.yml, deploy/prometheus.yml and the Dockerfile agree with each other and with Settings.

Docker does not run here, so the files are parsed and cross-checked instead of started.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus.yml"
DOCKERFILE = ROOT / "Dockerfile"

IMAGES = {
    "kafka": "apache/kafka:4.1.0",
    "redis": "redis:7",
    "prometheus": "prom/prometheus:v3.5.0",
}


# --- helpers -------------------------------------------------------------------------------------

# Compose interpolation; `${NAME:?message}` makes compose refuse to start when NAME is unset.
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z_]+)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
TEST_SECRETS = {"REDIS_PASSWORD": "test-only-password"}


def _interpolate(value: str) -> str:
    return VARIABLE.sub(lambda m: TEST_SECRETS[m.group("name")], value)


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, from either the mapping or the list form."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = [item.split("=", 1) for item in raw]
        assert all(len(pair) == 2 for pair in pairs), f"environment entries without '=': {raw}"
        return dict(pairs)
    return {str(name): str(value) for name, value in raw.items()}


def _ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(published, container) pairs from short ("[ip:]host:container[/proto]") or long syntax."""
    return [(published, container) for _, published, container in _bindings(service)]


def _bindings(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, published, container); an ip of "" means every interface."""
    bindings = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            bindings.append((str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"])))
            continue
        spec = str(entry).split("/", 1)[0]
        parts = spec.split(":")
        assert len(parts) >= 2, f"port {entry!r} is not published on the host"
        bindings.append((":".join(parts[:-2]), int(parts[-2]), int(parts[-1])))
    return bindings


def _host_port(address: str, *, bind: bool = False) -> tuple[str, int]:
    """``host:port``; with ``bind`` the host may be empty (listen on every interface)."""
    host, sep, port = address.strip().rpartition(":")
    assert sep, f"{address!r} has no port"
    assert host or bind, f"{address!r} has no host"
    return host, int(port)


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """Kafka listener list ``NAME://host:port,...`` as {NAME: (host, port)}."""
    result = {}
    for item in value.split(","):
        name, sep, address = item.strip().partition("://")
        assert sep, f"listener {item!r} has no NAME://"
        result[name] = _host_port(address, bind=True)
    return result


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, args = stripped.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return [str(part) for part in value]


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    result = _load_yaml(COMPOSE).get("services")
    assert isinstance(result, dict), "docker-compose.yml has no services mapping"
    return result


@pytest.fixture(scope="module")
def worker_env(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: _interpolate(value) for name, value in _env(services["worker"]).items()}


@pytest.fixture(scope="module")
def scrape_job() -> dict[str, Any]:
    jobs = _load_yaml(PROMETHEUS).get("scrape_configs") or []
    assert len(jobs) == 1, f"expected one scrape job, got {len(jobs)}"
    job: dict[str, Any] = jobs[0]
    return job


# --- services ------------------------------------------------------------------------------------


def test_services_and_images(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= {"kafka", "redis", "worker", "prometheus"}
    for name, image in IMAGES.items():
        assert services[name].get("image") == image, name
    build = services["worker"].get("build")
    context = build.get("context") if isinstance(build, dict) else build
    assert context == ".", "worker must be built from the repository's Dockerfile"


def test_worker_waits_for_healthy_dependencies(services: dict[str, dict[str, Any]]) -> None:
    depends_on = services["worker"].get("depends_on")
    assert isinstance(depends_on, dict), "depends_on needs the long form to carry a condition"
    for name in ("kafka", "redis"):
        assert depends_on.get(name, {}).get("condition") == "service_healthy", name
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


# --- worker environment vs Settings --------------------------------------------------------------


def test_worker_env_names_are_settings_fields(worker_env: dict[str, str]) -> None:
    unknown = {name for name in worker_env if name.lower() not in Settings.model_fields}
    assert not unknown, f"worker environment variables that Settings does not read: {sorted(unknown)}"


def test_worker_env_validates(worker_env: dict[str, str]) -> None:
    settings = Settings(**{name.lower(): value for name, value in worker_env.items()})
    assert settings.require_servers() == (worker_env["KAFKA_BOOTSTRAP_SERVERS"], worker_env["REDIS_URL"])
    assert settings.xo_web_host == "0.0.0.0", "metrics must be reachable from other containers"  # noqa: S104
    assert settings.xo_partitions == 4
    assert settings.xo_group_id == "xo-journeys"


def test_kafka_bootstrap_points_at_a_kafka_listener(
    services: dict[str, dict[str, Any]], worker_env: dict[str, str]
) -> None:
    kafka_env = _env(services["kafka"])
    listening = {port for _, port in _listeners(kafka_env["KAFKA_LISTENERS"]).values()}
    advertised = set(_listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"]).values())
    controller_ports = {
        port
        for name, (_, port) in _listeners(kafka_env["KAFKA_LISTENERS"]).items()
        if name in kafka_env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
    }
    for address in worker_env["KAFKA_BOOTSTRAP_SERVERS"].split(","):
        host, port = _host_port(address)
        assert host == "kafka", address
        assert host in services, address
        assert port in listening - controller_ports, f"kafka listens on {sorted(listening)}, not {port}"
        assert (host, port) in advertised, f"{address} is not advertised, clients would be redirected"


def test_kafka_host_listener_is_published(services: dict[str, dict[str, Any]]) -> None:
    kafka_env = _env(services["kafka"])
    advertised = _listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    listening = _listeners(kafka_env["KAFKA_LISTENERS"])
    host_listeners = [name for name, (host, _) in advertised.items() if host == "localhost"]
    assert len(host_listeners) == 1, f"expected one listener advertised on localhost: {advertised}"
    name = host_listeners[0]
    assert advertised[name][1] == 9094
    assert (9094, listening[name][1]) in _ports(services["kafka"])
    # The only published listener is the host one, on loopback; INTERNAL stays on the compose network.
    assert [(ip, published) for ip, published, _ in _bindings(services["kafka"])] == [("127.0.0.1", 9094)]
    assert kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"
    assert kafka_env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"


def test_redis_url_points_at_redis(services: dict[str, dict[str, Any]], worker_env: dict[str, str]) -> None:
    url = urlsplit(worker_env["REDIS_URL"])
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert url.hostname in services
    assert (url.port or 6379) == 6379, "redis:7 listens on 6379"
    assert url.password == TEST_SECRETS["REDIS_PASSWORD"], "the worker logs in with REDIS_PASSWORD"


def test_redis_requires_auth_with_a_password_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    command = [str(part) for part in redis["command"]]
    assert command[:2] == ["redis-server", "--requirepass"]
    [password] = command[2:]
    required = VARIABLE.fullmatch(password)
    assert required, "the password must come from the environment"
    assert (required["name"], required["op"]) == ("REDIS_PASSWORD", ":?"), "no default password: refuse to start"
    worker_url = _env(services["worker"])["REDIS_URL"]
    assert [m["op"] for m in VARIABLE.finditer(worker_url)] == [":?"]
    assert _env(redis)["REDISCLI_AUTH"] == password, "the healthcheck's redis-cli must log in"
    assert not redis.get("ports"), "Redis must not be published on the host"


def test_published_ports_listen_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for ip, published, _ in _bindings(service):
            assert ip == "127.0.0.1", f"{name} publishes {published} on every interface"


def test_worker_mounts_journeys_and_templates(services: dict[str, dict[str, Any]], worker_env: dict[str, str]) -> None:
    mounts = {}
    for volume in services["worker"].get("volumes") or []:
        source, target, *options = str(volume).split(":")
        mounts[target] = (source, options)
    for directory, variable in (("journeys", "XO_JOURNEYS_DIR"), ("templates", "XO_TEMPLATES_DIR")):
        target = worker_env[variable]
        assert target in mounts, f"{variable}={target} is not mounted"
        source, options = mounts[target]
        assert (ROOT / source).resolve() == ROOT / directory
        assert "ro" in options, f"{target} should be mounted read-only"


# --- metrics port: worker env, published port, Prometheus target, Dockerfile ----------------------


def test_metrics_port_is_consistent(
    services: dict[str, dict[str, Any]], worker_env: dict[str, str], scrape_job: dict[str, Any]
) -> None:
    port = int(worker_env["XO_WEB_PORT"])
    assert port in {container for _, container in _ports(services["worker"])}, "metrics port not published"
    targets = [target for group in scrape_job["static_configs"] for target in group["targets"]]
    assert [_host_port(target) for target in targets] == [("worker", port)]
    assert scrape_job.get("metrics_path", "/metrics") == "/metrics"
    assert scrape_job.get("scrape_interval") == "5s"


def test_prometheus_mounts_its_config(services: dict[str, dict[str, Any]]) -> None:
    volumes = [str(volume).split(":") for volume in services["prometheus"].get("volumes") or []]
    sources = {target: (ROOT / source).resolve() for source, target, *_ in volumes}
    assert sources.get("/etc/prometheus/prometheus.yml") == PROMETHEUS
    assert (9090, 9090) in _ports(services["prometheus"])


def test_dockerfile_copies_config_and_exposes_metrics(worker_env: dict[str, str]) -> None:
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copied = {arg.rstrip("/") for keyword, args in instructions if keyword == "COPY" for arg in args.split()[:-1]}
    assert {"journeys", "templates", "orchestrator", "pyproject.toml"} <= copied
    exposed = {
        int(port.split("/")[0]) for keyword, args in instructions if keyword == "EXPOSE" for port in args.split()
    }
    assert int(worker_env["XO_WEB_PORT"]) in exposed
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image should not run as root"
    assert users[-1] not in {"root", "0"}


def test_worker_command_runs_the_worker(services: dict[str, dict[str, Any]]) -> None:
    instructions = _dockerfile_instructions()
    entrypoints = [_exec_form(args) for keyword, args in instructions if keyword == "ENTRYPOINT"]
    cmds = [_exec_form(args) for keyword, args in instructions if keyword == "CMD"]
    entrypoint = entrypoints[-1] if entrypoints else []
    image_cmd = cmds[-1] if cmds else []
    command = services["worker"].get("command") or image_cmd
    if isinstance(command, str):
        command = command.split()
    assert entrypoint + command == ["orchestrator", "worker"], "compose does not run the worker"
    assert entrypoint + image_cmd == ["orchestrator", "worker"], "`docker run` of the image does not run the worker"


def test_dockerfile_healthcheck_asks_the_readiness_probe() -> None:
    [healthcheck] = [args for keyword, args in _dockerfile_instructions() if keyword == "HEALTHCHECK"]
    options, _, command = healthcheck.partition(" CMD ")
    assert _exec_form(command) == ["orchestrator", "probe", "ready"]
    timeout = re.search(r"--timeout=(\d+)s", options)
    assert timeout, "a probe without a timeout can hang"
    assert int(timeout.group(1)) > 4, "the probe's own HTTP timeout (4 s) must fit inside"
