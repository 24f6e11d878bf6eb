"""Settings from the environment (the only reader of os.environ). Frozen.

Kafka names follow the usual client convention (KAFKA_BOOTSTRAP_SERVERS, …); engine
settings carry the XO_ prefix. Unset KAFKA_BOOTSTRAP_SERVERS / REDIS_URL mean "start the
embedded servers" where a command supports it (demo), and an error elsewhere.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused environment is printed without its values (passwords, URLs).
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False, hide_input_in_errors=True)

    kafka_bootstrap_servers: str | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # TLS (SSL / SASL_SSL): the CA that signed the brokers' certificates (default: the system's),
    # and a client certificate for brokers that ask for one (mutual TLS).
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    # redis://[:password@]host:port/db or rediss:// for TLS; a secret because it carries the password.
    redis_url: SecretStr | None = None
    # rediss://: the CA that signed the Redis server's certificate (default: the system's).
    redis_ssl_cafile: Path | None = None
    # A Redis Cluster behind REDIS_URL (also implied by a redis+cluster:// or rediss+cluster:// URL).
    redis_cluster: bool = False

    xo_topic_prefix: str = Field(default="xo", pattern=r"^[A-Za-z0-9._-]+$")
    xo_group_id: str = Field(default="xo-journeys", pattern=r"^[A-Za-z0-9._-]+$")
    xo_partitions: int = Field(default=4, ge=1, le=1024)
    # Replicas of every topic the worker declares (3 on a production Kafka; 1 on a one-broker setup).
    xo_replication_factor: int = Field(default=1, ge=1, le=16)
    xo_journeys_dir: Path = Path("journeys")
    xo_templates_dir: Path = Path("templates")
    xo_data_dir: Path = Path(tempfile.gettempdir()) / "xo-journeys"
    xo_web_host: str = "127.0.0.1"
    xo_web_port: int = Field(default=6066, ge=1, le=65535)
    xo_batch_size: int = Field(default=500, ge=1, le=100_000)
    # Accepted so older deployments' env still validates; a batch is now one fetch (XO_FETCH_WAIT_MS bounds it).
    xo_batch_within_s: float = Field(default=0.01, gt=0, le=10)
    # Tansu holds a JoinGroup for half the session timeout; a short one starts workers fast.
    xo_session_timeout_s: float = Field(default=10.0, ge=1, le=300)
    # How long the broker may hold an empty fetch. Apache Kafka answers as soon as data is
    # there; Tansu always waits this long, so keep it short there.
    xo_fetch_wait_ms: int = Field(default=50, ge=1, le=5000)
    xo_timer_interval_s: float = Field(default=0.25, gt=0, le=60)
    # Schedule journeys: customers a worker hands an occurrence to per second (all its walks),
    # and how often it looks for a walk to do (orchestrator/service/scheduler.py).
    xo_audience_rate: float = Field(default=2000.0, gt=0, le=1_000_000)
    xo_audience_interval_s: float = Field(default=1.0, gt=0, le=60)
    # After SIGTERM the process is gone within this many seconds, whatever Redis or Kafka are doing
    # (a batch still unfinished is abandoned unacked, exit code 75); below Kubernetes' default 30 s.
    xo_shutdown_timeout_s: float = Field(default=20.0, ge=2, le=3600)
    # How often a worker looks for changed journey/template files (0: only on SIGHUP); see orchestrator/reloading.py.
    xo_reload_interval_s: float = Field(default=5.0, ge=0, le=3600)
    xo_log_level: Literal["debug", "info", "warning", "error"] = "info"
    # "json": one JSON object per line on stderr (structlog), for log collectors; "text": faust's format.
    xo_log_format: Literal["text", "json"] = "text"
    # "off" ignores journeys/policy.yaml (quiet hours, caps): for demos and tests that run at any hour.
    xo_contact_policy: Literal["on", "off"] = "on"
    # The channel worker's webhook sender signs every request with it (HMAC-SHA256).
    xo_webhook_secret: SecretStr | None = None
    # Stored states are written packed (zstd with a fixed dictionary, core/packing.py; ~7× smaller
    # in Redis). false writes plain JSON: for a rolling upgrade from a release before packed states
    # (those cannot read packed ones); both are always read. See docs/operations.md.
    xo_pack_states: bool = True

    @model_validator(mode="after")
    def _security_is_consistent(self) -> Settings:
        """Refuse settings that would be silently ignored, or that would send a password in clear."""
        protocol = self.kafka_security_protocol
        sasl = (self.kafka_sasl_mechanism, self.kafka_sasl_username, self.kafka_sasl_password)
        if protocol in SASL_PROTOCOLS and not all(sasl):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME"
                " and KAFKA_SASL_PASSWORD"
            )
        if protocol not in SASL_PROTOCOLS and any(sasl):
            raise ValueError(
                f"KAFKA_SASL_* are set but KAFKA_SECURITY_PROTOCOL={protocol}: set SASL_SSL"
                " (or SASL_PLAINTEXT to send the password in clear on purpose)"
            )
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if protocol not in TLS_PROTOCOLS and any(tls_files):
            raise ValueError(f"KAFKA_SSL_* are set but KAFKA_SECURITY_PROTOCOL={protocol}: set SSL or SASL_SSL")
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE")
        redis_tls = self.redis_url is not None and self.redis_url.get_secret_value().startswith("rediss://")
        if self.redis_ssl_cafile and not redis_tls:
            raise ValueError("REDIS_SSL_CAFILE is set but REDIS_URL does not start with rediss://")
        return self

    def require_servers(self) -> tuple[str, str]:
        """Bootstrap servers and Redis URL, or a message saying which variable is missing."""
        kafka = self.kafka_bootstrap_servers or ""
        redis = self.redis_url.get_secret_value() if self.redis_url else ""
        missing = [name for name, value in (("KAFKA_BOOTSTRAP_SERVERS", kafka), ("REDIS_URL", redis)) if not value]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} (or run `orchestrator demo` for embedded servers)")
        return kafka, redis
