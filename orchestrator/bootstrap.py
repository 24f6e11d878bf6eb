"""The composition root: Settings → config, templates, adapters → the wired service."""

from __future__ import annotations

from dataclasses import dataclass, replace

from redis.asyncio import Redis

from orchestrator.adapters.metrics import Metrics, declared_event_types
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
    _, url = settings.require_servers()
    # Timeouts turn a frozen Redis into a TransientError (retried with backoff) instead of a hang.
    client = Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
    return RedisStore(client, prefix=settings.xo_topic_prefix)


def kafka_client_options(settings: Settings) -> dict[str, object]:
    """Security options shared by every Kafka client (aiokafka / kafka-python names agree)."""
    options: dict[str, object] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options
