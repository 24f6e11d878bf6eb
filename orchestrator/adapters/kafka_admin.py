"""Create the engine's topics up front (idempotent), so consumers can be assigned at once."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def ensure_topics(
    bootstrap: str, partitions: Mapping[str, int], options: Mapping[str, object], replication: int = 1
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="xo-admin", **options)
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(name, count, replication) for name, count in partitions.items() if name not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile by another worker
                admin.create_topics(wanted)
    finally:
        admin.close()
