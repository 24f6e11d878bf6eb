"""The durable dedupe record: one Redis key per handled ``action_id``.

``SET NX EX``: the first outcome for an action wins; its value is the receipts that outcome
produced, so a re-published copy (or a redelivery after a crash between the mark and the
receipts) produces the same receipts again, byte for byte, and sends nothing. The mark is
written only after the provider accepted (or the action was given up on): a kill in
between sends again, which the provider-side idempotency key absorbs.

The window: ``ttl_s`` (default 7 days) and never less than a day past the action's
``not_after``. Re-publication only happens while the engine's outbox holds the action,
which is well inside that; a copy arriving after the mark expired is past ``not_after``
and is never sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.errors import TransientError

MIN_PAST_NOT_AFTER = timedelta(days=1)
QUOTA_KEY_TTL_S = 2 * 24 * 3600


class Marks:
    def __init__(self, client: Redis, prefix: str, channel: str, ttl_s: int) -> None:
        self.client = client
        self.base = f"{prefix}:channel:{channel}:done:"
        self.ttl_s = ttl_s

    def key(self, action_id: str) -> str:
        return self.base + action_id

    async def get(self, action_id: str) -> list[bytes] | None:
        """The receipts recorded for this action, or None when it was never handled."""
        try:
            value = await self.client.get(self.key(action_id))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise TransientError(f"redis: {exc}") from exc
        return None if value is None else [r.encode() for r in orjson.loads(value)]

    async def put(self, action_id: str, receipts: list[bytes], not_after: datetime, now: datetime) -> bool:
        """Record the outcome; False when another outcome was recorded first (it stands)."""
        ttl = max(self.ttl_s, int((not_after - now + MIN_PAST_NOT_AFTER).total_seconds()))
        value = orjson.dumps([r.decode() for r in receipts])
        try:
            return bool(await self.client.set(self.key(action_id), value, nx=True, ex=ttl))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise TransientError(f"redis: {exc}") from exc


class StaffQuota:
    """Sends per staff account (导购) per local day, across every worker of the channel.

    WeCom limits what one staff account may send in a day; a send beyond ``limit`` fails
    with ``quota_exceeded`` (a journey's ``on_failed`` can take another channel). One
    ``INCR`` per send on ``<prefix>:channel:<channel>:staff:<staff_id>:<local date>``,
    which expires two days later.
    """

    def __init__(self, client: Redis, prefix: str, channel: str, limit: int, tz: ZoneInfo) -> None:
        self.client = client
        self.base = f"{prefix}:channel:{channel}:staff:"
        self.limit = limit
        self.tz = tz

    async def take(self, staff_id: str, now: datetime) -> bool:
        """Count one send for ``staff_id`` today; False when that is over the limit."""
        key = f"{self.base}{staff_id}:{now.astimezone(self.tz).date().isoformat()}"
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, QUOTA_KEY_TTL_S)
                count, _ = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise TransientError(f"redis: {exc}") from exc
        return int(count) <= self.limit
