"""Connecting, pipelines and Lua scripts that work alike on one Redis and on a Redis Cluster.

A single Redis runs a pipeline in order on one connection. redis-py's ``RedisCluster``
groups a pipeline's commands by node and sends the groups in parallel, so order between
keys of different slots is not kept: a caller that needs "A before B" across slots awaits
A's round trip first (``Client`` / ``is_cluster`` tell it which it has).

Scripts go out as EVALSHA on both. A cluster pipeline does not load scripts beforehand
(a single-node one checks with SCRIPT EXISTS), and a restarted node has an empty script
cache: ``eval_many`` loads the script on every primary and re-runs only the calls that
came back NOSCRIPT (they did not run, so running them again is safe).

Every failure of the connection or of the cluster's topology is a TransientError: the
caller retries with backoff and nothing is acked meanwhile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    NoScriptError,
    ReadOnlyError,
    RedisClusterException,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.errors import TransientError

Client = Redis | RedisCluster
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
# ReadOnly: a replica promoted during a failover; ClusterDown / TryAgain / Ask (and Moved, an
# Ask): slots moving or a master away; RedisClusterException: no node reachable to map slots.
TRANSIENT = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    ClusterDownError,
    TryAgainError,
    AskError,
    RedisClusterException,
    OSError,
)


def connect(url: str, *, cluster: bool = False, **options: Any) -> Client:
    """A client for ``url``: a cluster client for ``redis+cluster://`` (or ``rediss+cluster://``)
    URLs or when ``cluster`` is set, else a plain one. ``options`` go to every connection."""
    scheme, sep, rest = url.partition("://")
    if scheme in CLUSTER_SCHEMES:
        return RedisCluster.from_url(f"{CLUSTER_SCHEMES[scheme]}{sep}{rest}", **options)
    if cluster:
        return RedisCluster.from_url(url, **options)
    return Redis.from_url(url, **options)


def is_cluster(client: Client) -> bool:
    return isinstance(client, RedisCluster)


@dataclass(frozen=True)
class Script:
    """A Lua script and its SHA1, as EVALSHA needs it."""

    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> Script:
        return cls(source, hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest())


@dataclass(frozen=True)
class Call:
    """One script call: all its keys in one slot (one customer, or one index shard)."""

    keys: Sequence[str]
    args: Sequence[str | bytes | int]


async def execute(client: Client, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run ``commands`` (``(name, *args)``) in one pipelined round trip; errors become exceptions.

    An error reply of one command raises (TransientError when it is one, else as it is).
    """
    replies = await _pipelined(client, commands)
    _raise_first(replies)
    return replies


async def eval_many(
    client: Client, script: Script, calls: Sequence[Call], before: Sequence[tuple[Any, ...]] = ()
) -> list[Any]:
    """EVALSHA every call in one round trip (after the commands ``before``, in the same pipeline);
    calls that found no script run again once it is loaded. Returns the calls' replies."""
    commands = [("EVALSHA", script.sha, len(c.keys), *c.keys, *c.args) for c in calls]
    replies = await _pipelined(client, [*before, *commands])
    _raise_first(replies[: len(before)])
    replies = replies[len(before) :]
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        await _load(client, script)
        again = await _pipelined(client, [commands[i] for i in missing])
        for index, reply in zip(missing, again, strict=True):
            replies[index] = reply
    _raise_first(replies)
    return replies


def _raise_first(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise _classified(reply)


async def _load(client: Client, script: Script) -> None:
    try:
        # On a cluster SCRIPT LOAD goes to every primary.
        await client.script_load(script.source)
    except TRANSIENT as exc:
        raise TransientError(f"redis: {exc}") from exc


async def _pipelined(client: Client, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    if not commands:
        return []
    pipe: Any = client.pipeline(transaction=False)  # Pipeline or ClusterPipeline: the same calls here
    try:
        for command in commands:
            pipe.execute_command(*command)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies
    except TRANSIENT as exc:
        raise TransientError(f"redis: {exc}") from exc
    finally:
        # Give the connection back to the pool even when execute() raised before its own reset.
        await pipe.reset()


def _classified(error: Exception) -> Exception:
    if isinstance(error, TRANSIENT):
        return TransientError(f"redis: {error}")
    return error
