"""Is the Kafka cluster reachable, with the worker's own security settings? For the readiness probe."""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient


class KafkaProbe:
    """A metadata round trip to the cluster. The admin client is made on first use and made
    again after a failure, so a broker that comes back is seen at the next probe."""

    def __init__(self, bootstrap: str, options: Mapping[str, object]) -> None:
        self._bootstrap = bootstrap
        self._options = dict(options)
        self._admin: AIOKafkaAdminClient | None = None

    async def check(self) -> str:
        try:
            admin = self._admin
            if admin is None:
                admin = self._admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._bootstrap,
                    client_id="xo-readiness",
                    request_timeout_ms=5000,
                    **self._options,
                )
                await admin.start()
            cluster = await admin.describe_cluster()
        except BaseException:
            await self.close()
            raise
        return f"{len(cluster.get('brokers', []))} broker(s)"

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            await admin.close()
