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

The hot path's pipelines (script calls, and ``execute(..., raw=True)`` where replies need no
redis-py post-processing) on a single Redis skip redis-py's ``Pipeline``: it reads each reply
under its own ``socket_timeout`` context (an asyncio timer set and cancelled per command, about
a third of the client's CPU per command). ``_raw`` sends the packed commands on a pooled
connection and reads every reply under one timeout of the same length; a connection whose
round trip failed or was cancelled is disconnected, never reused half read. It packs the
commands itself (``packed``: the bytes redis-py's ``pack_commands`` sends, each command by
hiredis's C packer, a sixth of redis-py's time; another encoding than UTF-8 and anything but
str, bytes and int arguments are left to redis-py).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hiredis import pack_command
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    NoScriptError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.errors import TransientError

Client = Redis | RedisCluster
_PLAIN = frozenset((str, bytes, int))  # argument types packed here, as redis-py packs them
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


async def execute(client: Client, commands: Sequence[tuple[Any, ...]], *, raw: bool = False) -> list[Any]:
    """Run ``commands`` (``(name, *args)``) in one pipelined round trip; errors become exceptions.

    An error reply of one command raises (TransientError when it is one, else as it is).
    ``raw``: the replies as Redis sent them, without redis-py's per-command parsing (HGETALL
    a flat list, scores as bytes …); for commands whose replies are the same either way or unused.
    """
    replies = await _pipelined(client, commands, raw=raw)
    _raise_first(replies)
    return replies


async def eval_many(
    client: Client, script: Script, calls: Sequence[Call], before: Sequence[tuple[Any, ...]] = ()
) -> list[Any]:
    """EVALSHA every call in one round trip (after the commands ``before``, in the same pipeline);
    calls that found no script run again once it is loaded. Returns the calls' replies."""
    commands = [("EVALSHA", script.sha, len(c.keys), *c.keys, *c.args) for c in calls]
    replies = await _pipelined(client, [*before, *commands], raw=True)
    _raise_first(replies[: len(before)])
    replies = replies[len(before) :]
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        await _load(client, script)
        again = await _pipelined(client, [commands[i] for i in missing], raw=True)
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


async def _pipelined(client: Client, commands: Sequence[tuple[Any, ...]], raw: bool = False) -> list[Any]:
    if not commands:
        return []
    if raw and isinstance(client, Redis) and client.connection is None:  # pooled, single Redis
        return await _raw(client, commands)
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


async def _raw(client: Redis, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """One round trip on a pooled connection: every reply read under one ``socket_timeout``."""
    pool = client.connection_pool
    try:
        # redis-py leaves get_connection untyped; it returns a connected Connection.
        connection: Any = await pool.get_connection()  # type: ignore[no-untyped-call]
    except TRANSIENT as exc:
        raise TransientError(f"redis: {exc}") from exc
    try:
        try:
            async with asyncio.timeout(connection.socket_timeout):  # None: no timeout, as redis-py
                await connection.send_packed_command(packed(connection, commands))
                return [await _reply(connection) for _ in commands]
        except BaseException:
            await connection.disconnect(nowait=True)  # replies may be left unread: never reuse it
            raise
    except TRANSIENT as exc:
        raise TransientError(f"redis: {exc}") from exc
    finally:
        await pool.release(connection)


def packed(connection: Any, commands: Sequence[tuple[Any, ...]]) -> bytes | list[bytes]:
    """``commands`` in RESP as ``connection.pack_commands`` packs them (the same bytes): with
    UTF-8 (redis-py's default encoding) and arguments that are str, bytes or int, each command
    by hiredis's C packer, the one redis-py itself uses when hiredis is installed; anything else
    (another encoding, a float, a bool, a memoryview, a name that is not a str or has a space)
    goes to redis-py. Argument types are checked first (``_PLAIN``), since hiredis would also
    pack a bool or a float, which redis-py refuses or writes otherwise."""
    encoding, errors = connection.encoder.encoding, connection.encoder.encoding_errors
    if errors != "strict" or encoding.lower().replace("-", "") != "utf8":
        return connection.pack_commands(commands)  # type: ignore[no-any-return]  # redis-py: untyped
    out = []
    for command in commands:
        name = command[0]
        if type(name) is not str or " " in name or not _PLAIN.issuperset(map(type, command)):
            return connection.pack_commands(commands)  # type: ignore[no-any-return]  # redis-py: untyped
        out.append(pack_command(command))
    return b"".join(out)


async def _reply(connection: Any) -> Any:
    try:
        # math.inf: this read sets no timer of its own (the caller's timeout covers the round trip).
        return await connection.read_response(timeout=math.inf)
    except ResponseError as error:  # an error reply: the command's result, as a pipeline gives it
        return error


def _classified(error: Exception) -> Exception:
    if isinstance(error, TRANSIENT):
        return TransientError(f"redis: {error}")
    return error
