"""Sends held for a staff member's working hours, in Redis, shared by every worker of the channel.

One sorted set ``<prefix>:channel:<channel>:held``: the member is the action record's bytes
(a re-published copy is the same member, so it is held once), the score the instant it may
go (epoch ms). A worker claims due members atomically by pushing their score a lease ahead
(a Lua script), handles each as if it had just arrived, then removes it. A worker killed in
between leaves the member to come due again when the lease runs out; the dedupe mark makes
the second handling a copy, never a second send.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.errors import TransientError

LEASE_MS = 60_000  # a claimed member comes due again after this, should its worker die
CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member)
end
return due
"""


class Held:
    def __init__(self, client: Redis, prefix: str, channel: str) -> None:
        self.client = client
        self.key = f"{prefix}:channel:{channel}:held"

    async def put(self, raw: bytes, release: datetime) -> None:
        with _transient():
            await self.client.zadd(self.key, {raw: _ms(release)})

    async def claim(self, now: datetime, limit: int = 100) -> list[bytes]:
        """Due members, each claimed for LEASE_MS (no other worker gets them meanwhile)."""
        with _transient():
            found = await self.client.eval(CLAIM, 1, self.key, _ms(now), _ms(now) + LEASE_MS, limit)
        return [bytes(m) for m in found]

    async def done(self, raw: bytes) -> None:
        with _transient():
            await self.client.zrem(self.key, raw)

    async def count(self) -> int:
        with _transient():
            return int(await self.client.zcard(self.key))


@contextlib.contextmanager
def _transient() -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise TransientError(f"redis: {exc}") from exc


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
