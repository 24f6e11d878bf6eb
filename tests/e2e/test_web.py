"""What a live worker serves over HTTP: /metrics and the probes, nothing of faust's own pages;
readiness follows Redis going away and coming back, liveness does not."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis, free_port
from orchestrator.harness import WorkerProcess
from orchestrator.probe import probe
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.integration.workers import create_topics, worker_env

pytestmark = pytest.mark.integration
TIMEOUT = 60.0


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _await(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)  # polling a live process over HTTP; nothing to await
    return False


def _ready(port: int) -> tuple[int, dict[str, dict[str, object]]]:
    status, body = _get(port, "/readyz")
    return status, (json.loads(body)["checks"] if status in (200, 503) else {})


@pytest.fixture
def redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(persistent=True) as server:
        yield server


@pytest.fixture
def worker(kafka_bootstrap: str, redis: EmbeddedRedis, prefix: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    create_topics(kafka_bootstrap, Topics(prefix), 2)
    process = WorkerProcess(worker_env(kafka_bootstrap, redis.url, prefix, tmp_path, 2)).start()
    yield process
    process.stop()


def test_web_binds_to_loopback_by_default() -> None:
    assert Settings().xo_web_host == "127.0.0.1"


def test_probe_fails_when_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert probe("127.0.0.1", port, "live") == 1
    assert f"127.0.0.1:{port}/healthz" in capsys.readouterr().err


def test_only_metrics_and_probes_answer_and_readiness_follows_redis(
    worker: WorkerProcess, redis: EmbeddedRedis
) -> None:
    port = worker.web_port
    assert _await(lambda: _ready(port)[0] == 200 or not worker.alive()), worker.log_tail()
    status, checks = _ready(port)
    assert status == 200, checks
    assert {"partitions", "redis", "kafka", "config"} <= set(checks)
    assert "[0]" in str(checks["partitions"]["detail"])

    for path in ("/router/topics", "/router/", "/table/", "/", "/graph/", "/stats/"):
        assert _get(port, path)[0] == 404, path
    assert _get(port, "/metrics")[0] == 200
    status, body = _get(port, "/healthz")
    assert status == 200
    assert json.loads(body)["checks"]["event_loop"]["ok"] is True

    redis.stop()
    assert _await(lambda: _ready(port)[0] == 503), worker.log_tail()
    status, checks = _ready(port)
    assert checks["redis"]["ok"] is False
    assert "Connection" in str(checks["redis"]["detail"])
    assert checks["kafka"]["ok"] is True
    assert _get(port, "/healthz")[0] == 200, "a Redis outage is not a reason to restart the worker"

    assert probe("0.0.0.0", port, "ready") == 1  # noqa: S104 - the image's XO_WEB_HOST; probed on loopback
    assert probe("127.0.0.1", port, "live") == 0

    redis.start()
    assert _await(lambda: _ready(port)[0] == 200), worker.log_tail()
    assert probe("127.0.0.1", port, "ready") == 0
    assert worker.alive()


def test_readiness_names_kafka_when_the_broker_is_away(redis_url: str, prefix: str, tmp_path: Path) -> None:
    with EmbeddedKafka() as kafka:
        create_topics(kafka.bootstrap, Topics(prefix), 2)
        # A stop with the broker away waits out the shutdown bound: keep it short here.
        env = {**worker_env(kafka.bootstrap, redis_url, prefix, tmp_path, 2), "XO_SHUTDOWN_TIMEOUT_S": "3"}
        worker = WorkerProcess(env).start()
        try:
            port = worker.web_port
            assert _await(lambda: _ready(port)[0] == 200 or not worker.alive()), worker.log_tail()
            kafka.stop()
            assert _await(lambda: _ready(port)[0] == 503), worker.log_tail()
            _, checks = _ready(port)
            assert checks["kafka"]["ok"] is False, checks
            assert checks["kafka"]["detail"], "the reason is in the body"
            assert checks["redis"]["ok"] is True
            assert _get(port, "/healthz")[0] == 200
        finally:
            worker.stop()
