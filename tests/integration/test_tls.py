"""Kafka over real TLS (Debian's stunnel in front of the embedded broker, a CA made for the test):
a worker consumes and produces through it, and a SASL secret never crosses the wire in clear."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_security import KafkaSecurity
from orchestrator.embedded import free_port
from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.fixtures.tls import Certificates, KafkaBehindTls, RedisWithPassword, Relay, Stunnel, make_certificates
from tests.integration.workers import (
    customer_events,
    expected_action_ids,
    output_topics,
    worker_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PASSWORD = "pa55-w0rd-never-in-clear"  # noqa: S105 - the secret the test looks for on the wire
REDIS_PASSWORD = "r3dis-auth-secret"  # noqa: S105 - a throw-away password for the test's Redis
TLS_RECORD_HANDSHAKE = 0x16  # the first byte of a TLS ClientHello record


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "pki")


@pytest.fixture
def tls_kafka(certs: Certificates, tmp_path: Path) -> Iterator[tuple[str, Stunnel]]:
    """The broker reachable only as advertised: through stunnel's TLS port."""
    tls_port = free_port()
    with KafkaBehindTls(tls_port) as kafka, Stunnel(certs, kafka.port, tmp_path, port=tls_port) as tunnel:
        yield f"127.0.0.1:{tls_port}", tunnel


@pytest.fixture
def tls_redis(certs: Certificates, tmp_path: Path) -> Iterator[str]:
    """Redis requiring AUTH, reachable through TLS: a rediss:// URL with the password."""
    with RedisWithPassword(REDIS_PASSWORD) as redis, Stunnel(certs, redis.port, tmp_path) as tunnel:
        yield f"rediss://:{REDIS_PASSWORD}@127.0.0.1:{tunnel.port}/0"


def test_worker_consumes_and_produces_through_tls(
    tls_kafka: tuple[str, Stunnel], tls_redis: str, certs: Certificates, prefix: str, tmp_path: Path
) -> None:
    """Kafka over TLS, Redis over TLS with AUTH: the whole flow, and no password in the log."""
    bootstrap, tunnel = tls_kafka
    redis_url = tls_redis
    options = KafkaSecurity("SSL", cafile=certs.ca).client_options()
    topics = Topics(prefix)
    ensure_topics(bootstrap, dict.fromkeys([topics.events, topics.by_customer, *output_topics(topics)], 2), options)
    env = {
        **worker_env(bootstrap, redis_url, prefix, tmp_path / "data", 2),
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CAFILE": str(certs.ca),
        "REDIS_SSL_CAFILE": str(certs.ca),
    }
    now = datetime.now(tz=UTC)
    events = {cid: customer_events(cid, now) for cid in ("T1", "T2")}
    expected = expected_action_ids(events, now)
    worker = WorkerProcess(env).start()
    watcher = TopicWatcher(bootstrap, output_topics(topics), options)
    try:
        for lines in events.values():
            produce(bootstrap, topics.events, lines, options)
        done = watcher.wait_for(
            lambda got: expected <= {str(r.value.get("action_id")) for r in got}, 90, alive=worker.alive
        )
        assert done, worker.log_tail()
    finally:
        watcher.close()
        worker.stop()
    # Every client, the worker included, went through the TLS endpoint (the broker advertises only it).
    assert tunnel.log.read_text().count("connected remote server") >= 3
    assert REDIS_PASSWORD not in worker.log_path.read_text(errors="replace")


def test_worker_without_tls_settings_cannot_reach_a_tls_broker(
    tls_kafka: tuple[str, Stunnel], redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """The control for the test above: speaking plaintext to the TLS port gets nowhere."""
    bootstrap, _ = tls_kafka
    with pytest.raises(Exception, match=r"(?i)bootstrap|timed out|connection"):
        ensure_topics(bootstrap, {Topics(prefix).events: 1}, {"bootstrap_timeout_ms": 3000})


@pytest.fixture
def sasl_wire(certs: Certificates, tmp_path: Path) -> Iterator[tuple[Relay, Relay]]:
    """client → outer relay (the network) → stunnel (TLS) → inner relay → broker requiring SASL.

    The broker (Tansu) offers only SCRAM, so a PLAIN client stops after its SaslHandshake; what
    matters is what crossed the network up to then, and that the handshake went inside TLS."""
    tls_port = free_port()
    with KafkaBehindTls(tls_port, "--authentication") as kafka:
        inner = Relay(kafka.port)
        with Stunnel(certs, inner.port, tmp_path, port=tls_port):
            outer = Relay(tls_port)
            yield outer, inner
            outer.close()
        inner.close()


def _assert_secret_only_inside_tls(outer: Relay, inner: Relay) -> None:
    assert b"PLAIN" in inner.sent, "the client never reached the SASL handshake"
    assert outer.first_bytes, "nothing crossed the network"
    assert set(outer.first_bytes) == {TLS_RECORD_HANDSHAKE}, "a connection did not start with TLS"
    assert PASSWORD.encode() not in outer.sent
    assert b"PLAIN" not in outer.sent


def test_worker_runs_sasl_only_inside_tls_and_never_logs_the_secret(
    sasl_wire: tuple[Relay, Relay], certs: Certificates, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    outer, inner = sasl_wire
    env = {
        **worker_env(f"127.0.0.1:{outer.port}", redis_url, prefix, tmp_path / "data", 2),
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "alice",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CAFILE": str(certs.ca),
        "XO_LOG_LEVEL": "debug",
    }
    worker = WorkerProcess(env).start()
    try:
        assert _until(lambda: b"PLAIN" in inner.sent or not worker.alive(), 60), worker.log_tail()
    finally:
        worker.stop()
    _assert_secret_only_inside_tls(outer, inner)
    log = worker.log_path.read_text(errors="replace")
    assert PASSWORD not in log
    assert "in the clear" not in log


def test_tools_clients_run_sasl_only_inside_tls(
    sasl_wire: tuple[Relay, Relay], certs: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outer, inner = sasl_wire
    security = KafkaSecurity("SASL_SSL", "PLAIN", "alice", SecretStr(PASSWORD), cafile=certs.ca)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the broker refuses PLAIN; only the wire matters here
        ensure_topics(f"127.0.0.1:{outer.port}", {"t": 1}, {**security.client_options(), "bootstrap_timeout_ms": 3000})
    _assert_secret_only_inside_tls(outer, inner)
    assert "SaslHandshake" in caplog.text or "sasl" in caplog.text.lower(), "the client's debug log was captured"
    assert PASSWORD not in caplog.text


def test_sasl_plaintext_is_seen_on_the_wire(sasl_wire: tuple[Relay, Relay]) -> None:
    """The control: the same relay does see SASL when a client is told to run it in clear."""
    _, inner = sasl_wire
    security = KafkaSecurity("SASL_PLAINTEXT", "PLAIN", "alice", SecretStr(PASSWORD))
    with pytest.raises(Exception):  # noqa: B017, PT011 - the broker refuses PLAIN; only the wire matters here
        ensure_topics(f"127.0.0.1:{inner.port}", {"t": 1}, {**security.client_options(), "bootstrap_timeout_ms": 3000})
    assert b"PLAIN" in inner.sent
    assert TLS_RECORD_HANDSHAKE not in inner.first_bytes


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # bytes arrive on relay threads; nothing to await
    return False
