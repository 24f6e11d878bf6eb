"""Settings from the environment (the only reader of os.environ). Frozen.

Kafka names follow the usual client convention (KAFKA_BOOTSTRAP_SERVERS, …); engine
settings carry the XO_ prefix. Unset KAFKA_BOOTSTRAP_SERVERS / REDIS_URL mean "start the
embedded servers" where a command supports it (demo), and an error elsewhere.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    kafka_bootstrap_servers: str | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    redis_url: str | None = None

    xo_topic_prefix: str = Field(default="xo", pattern=r"^[A-Za-z0-9._-]+$")
    xo_group_id: str = Field(default="xo-journeys", pattern=r"^[A-Za-z0-9._-]+$")
    xo_partitions: int = Field(default=4, ge=1, le=1024)
    xo_journeys_dir: Path = Path("journeys")
    xo_templates_dir: Path = Path("templates")
    xo_data_dir: Path = Path(tempfile.gettempdir()) / "xo-journeys"
    xo_web_host: str = "127.0.0.1"
    xo_web_port: int = Field(default=6066, ge=1, le=65535)
    xo_batch_size: int = Field(default=500, ge=1, le=100_000)
    # How long a batch may wait to fill: 10 ms measured 4x better latency than 50 ms at no cost in throughput.
    xo_batch_within_s: float = Field(default=0.01, gt=0, le=10)
    # Tansu holds a JoinGroup for half the session timeout; a short one starts workers fast.
    xo_session_timeout_s: float = Field(default=10.0, ge=1, le=300)
    # How long the broker may hold an empty fetch. Apache Kafka answers as soon as data is
    # there; Tansu always waits this long, so keep it short there.
    xo_fetch_wait_ms: int = Field(default=50, ge=1, le=5000)
    xo_timer_interval_s: float = Field(default=0.25, gt=0, le=60)
    xo_log_level: Literal["debug", "info", "warning", "error"] = "info"
    # "off" ignores journeys/policy.yaml (quiet hours, caps): for demos and tests that run at any hour.
    xo_contact_policy: Literal["on", "off"] = "on"
    # The channel worker's webhook sender signs every request with it (HMAC-SHA256).
    xo_webhook_secret: SecretStr | None = None

    def require_servers(self) -> tuple[str, str]:
        """Bootstrap servers and Redis URL, or a message saying which variable is missing."""
        kafka, redis = self.kafka_bootstrap_servers or "", self.redis_url or ""
        missing = [name for name, value in (("KAFKA_BOOTSTRAP_SERVERS", kafka), ("REDIS_URL", redis)) if not value]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} (or run `orchestrator demo` for embedded servers)")
        return kafka, redis
