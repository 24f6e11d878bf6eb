"""The composition root: Settings → config, templates, adapters → the wired service."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from orchestrator.adapters.kafka_security import KafkaSecurity
from orchestrator.adapters.metrics import Metrics, declared_event_types
from orchestrator.adapters.redis_ops import Client, connect
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.config.catalog import Config, load_config
from orchestrator.core import World
from orchestrator.core.policy import ContactPolicy
from orchestrator.service.clock import SystemClock
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings


@dataclass(frozen=True)
class Wired:
    settings: Settings
    config: Config
    world: World
    topics: Topics
    metrics: Metrics
    clock: SystemClock


def load_world(settings: Settings) -> tuple[Config, World]:
    """Operator files → the core's World; raises ConfigError listing every problem."""
    config = load_config(settings.xo_journeys_dir, settings.xo_templates_dir)
    world = config.world()
    if settings.xo_contact_policy == "off":
        world = replace(world, policy=ContactPolicy())
    return config, world


def build(settings: Settings) -> Wired:
    config, world = load_world(settings)
    return Wired(
        settings=settings,
        config=config,
        world=world,
        topics=Topics(settings.xo_topic_prefix),
        metrics=Metrics(event_types=declared_event_types(world)),
        clock=SystemClock(),
    )


def redis_store(settings: Settings) -> RedisStore:
    settings.require_servers()  # a worker needs both, and says which is missing
    return RedisStore(redis_client(settings), prefix=settings.xo_topic_prefix, packed=settings.xo_pack_states)


def redis_client(settings: Settings) -> Client:
    """The asyncio client for REDIS_URL, for the worker and the operator commands alike."""
    url = settings.redis_url.get_secret_value() if settings.redis_url else ""
    if not url:
        raise ValueError("set REDIS_URL")
    # Timeouts turn a frozen Redis into a TransientError (retried with backoff) instead of a hang.
    # A redis+cluster:// URL (or REDIS_CLUSTER=true) gives redis-py's cluster client.
    return connect(
        url,
        cluster=settings.redis_cluster,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        **redis_tls_options(settings),
    )


def redis_tls_options(settings: Settings) -> dict[str, Any]:
    """redis-py options for a ``rediss://`` URL: the CA to check the server against (else the system's)."""
    if settings.redis_ssl_cafile is None:
        return {}
    return {"ssl_ca_certs": str(settings.redis_ssl_cafile)}


def kafka_security(settings: Settings) -> KafkaSecurity:
    return KafkaSecurity(
        protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        key_password=settings.kafka_ssl_key_password,
    )


def kafka_client_options(settings: Settings) -> dict[str, object]:
    """Security options shared by every Kafka client (aiokafka / kafka-python names agree)."""
    return kafka_security(settings).client_options()
