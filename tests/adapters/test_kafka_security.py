"""Security settings: consistent or refused, turned into the same client options everywhere, secrets masked."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from orchestrator.bootstrap import kafka_client_options, kafka_security, redis_tls_options
from orchestrator.cli import main
from orchestrator.demo import masked_url
from orchestrator.settings import Settings
from tests.fixtures.tls import make_certificates

SECRET = "s3cr3t-never-shown"  # noqa: S105 - the value the tests look for
SASL = {
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "xo",
    "kafka_sasl_password": SECRET,
}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka_security_protocol": "PLAINTEXT", **SASL}, "KAFKA_SASL_\\* are set but KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_security_protocol": "SSL", **SASL}, "set SASL_SSL"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN"}, "needs KAFKA_SASL_MECHANISM"),
        ({"kafka_ssl_cafile": "/ca.pem"}, "KAFKA_SSL_\\* are set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/k.pem"}, "KAFKA_SSL_KEYFILE needs"),
        ({"redis_url": "redis://r:6379/0", "redis_ssl_cafile": "/ca.pem"}, "REDIS_URL does not start with rediss"),
    ],
)
def test_inconsistent_security_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**values)  # type: ignore[arg-type]


def test_sasl_settings_are_refused_through_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "xo")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", SECRET)
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "KAFKA_SECURITY_PROTOCOL" in err
    assert SECRET not in err


def test_secrets_are_masked_in_the_settings_repr() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_key_password=SECRET,
        redis_url=f"rediss://:{SECRET}@redis:6380/0",
        **SASL,  # type: ignore[arg-type]
    )
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert SECRET not in shown
    assert settings.redis_url is not None
    assert SECRET in settings.redis_url.get_secret_value()


def test_masked_url_hides_only_the_password() -> None:
    assert masked_url(f"rediss://:{SECRET}@redis:6380/0") == "rediss://:***@redis:6380/0"
    assert masked_url(f"redis://app:{SECRET}@10.0.0.1/2") == "redis://app:***@10.0.0.1/2"
    assert masked_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_plaintext_has_no_tls_and_no_sasl() -> None:
    assert kafka_client_options(Settings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_options_carry_a_verifying_context_and_the_secret() -> None:
    options = kafka_client_options(Settings(kafka_security_protocol="SASL_SSL", **SASL))  # type: ignore[arg-type]
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == SECRET
    assert SECRET not in repr(options), "client libraries log their configuration"
    assert SECRET not in str(options)


def test_ssl_uses_the_configured_ca_and_client_certificate(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=certs.ca,
        kafka_ssl_certfile=certs.cert,
        kafka_ssl_keyfile=certs.key,
    )
    context = kafka_security(settings).ssl_context()
    assert context is not None
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "xo test CA"),),)]
    missing = Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "none.pem")
    with pytest.raises(FileNotFoundError):
        kafka_security(missing).ssl_context()


def test_sasl_in_clear_warns_and_no_client_logs_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    options = kafka_client_options(Settings(kafka_security_protocol="SASL_PLAINTEXT", **SASL))  # type: ignore[arg-type]
    assert "ssl_context" not in options
    assert "crosses the network in clear" in caplog.text
    assert SECRET not in caplog.text


def test_redis_ca_only_for_rediss(tmp_path: Path) -> None:
    assert redis_tls_options(Settings(redis_url="redis://r/0")) == {}
    settings = Settings(redis_url="rediss://r/0", redis_ssl_cafile=tmp_path / "ca.pem")
    assert redis_tls_options(settings) == {"ssl_ca_certs": str(tmp_path / "ca.pem")}
