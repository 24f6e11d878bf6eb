"""Redis work as the server sees it: commands by name, read events (≈ round trips), memory."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from redis import Redis


@dataclass(frozen=True)
class Snapshot:
    commands: dict[str, int]  # by command name (Lua-internal calls included, as Redis counts them)
    reads: int  # total_reads_processed: socket reads, one per pipeline that fits a read buffer
    used_memory: int


def snapshot(client: Redis) -> Snapshot:
    stats: dict[str, Any] = client.info("commandstats")
    commands = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    return Snapshot(
        commands=commands,
        reads=int(client.info("stats")["total_reads_processed"]),
        used_memory=int(client.info("memory")["used_memory"]),
    )


# Our own INFO calls between two snapshots: three per snapshot.
OWN = {"info": 3}


def per_input(before: Snapshot, after: Snapshot, inputs: float) -> dict[str, Any]:
    """Commands and read events between two snapshots, per processed input."""
    by_name = {name: count - before.commands.get(name, 0) - OWN.get(name, 0) for name, count in after.commands.items()}
    by_name = {name: count for name, count in by_name.items() if count > 0}
    total = sum(by_name.values())
    reads = after.reads - before.reads - 3
    scale = 1 / inputs if inputs else 0.0
    return {
        "inputs": inputs,
        "commands": total,
        "commands_per_input": round(total * scale, 4),
        "socket_reads": reads,  # server side: a large pipeline takes several reads
        "socket_reads_per_input": round(reads * scale, 5),
        "by_command_per_input": {k: round(v * scale, 4) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])},
    }


def memory(client: Redis, prefix: str, customer_ids: list[str], before: Snapshot, sample: int = 500) -> dict[str, Any]:
    """Memory of the customers' state: the used_memory delta per customer and sampled keys."""
    after = snapshot(client)
    rng = random.Random(7)
    chosen = rng.sample(customer_ids, min(sample, len(customer_ids)))
    pipe = client.pipeline(transaction=False)
    for cid in chosen:
        pipe.memory_usage(f"{prefix}:{{{cid}}}:state", samples=0)
        pipe.hstrlen(f"{prefix}:{{{cid}}}:state", "s")
    replies = pipe.execute()
    usages = [int(r) for r in replies[0::2] if r]
    json_sizes = [int(r) for r in replies[1::2] if r]
    timer_keys = list(client.scan_iter(match=f"{prefix}:timers:*", count=1000))  # every partition's shards
    pipe = client.pipeline(transaction=False)
    for key in timer_keys:
        pipe.zcard(key)
        pipe.memory_usage(key, samples=0)
    replies = pipe.execute()
    timers = sum(int(r or 0) for r in replies[0::2])
    timer_bytes = sum(int(r or 0) for r in replies[1::2])
    outboxes = sum(1 for _ in client.scan_iter(match=f"{prefix}:{{*}}:outbox", count=1000))
    delta = after.used_memory - before.used_memory
    return {
        "used_memory_delta_bytes": delta,
        "bytes_per_customer_all_in": round(delta / len(customer_ids)) if customer_ids else None,
        "state_key_bytes_mean": round(sum(usages) / len(usages)) if usages else None,
        "state_json_bytes_mean": round(sum(json_sizes) / len(json_sizes)) if json_sizes else None,
        "state_json_bytes_max": max(json_sizes) if json_sizes else None,
        "timer_index_entries": timers,
        "timer_index_bytes": timer_bytes,
        "pending_outboxes": outboxes,
        "sampled_customers": len(chosen),
    }


def prefix_memory(client: Redis, prefix: str, customers: int, sample: int = 500) -> dict[str, Any]:
    """``MEMORY USAGE`` of every key under ``prefix:`` (states, outboxes, identity graph, timer
    index …), by kind of key, and per customer; with the state keys of a sample of customers."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=2000))
    by_kind: dict[str, int] = {}
    count_by_kind: dict[str, int] = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.memory_usage(key, samples=0)
        for key, usage in zip(chunk, pipe.execute(), strict=True):
            kind = key_kind(key.decode(errors="replace"), prefix)
            by_kind[kind] = by_kind.get(kind, 0) + int(usage or 0)
            count_by_kind[kind] = count_by_kind.get(kind, 0) + 1
    total = sum(by_kind.values())
    states = [k for k in keys if k.endswith(b":state")]
    chosen = random.Random(7).sample(states, min(sample, len(states)))
    pipe = client.pipeline(transaction=False)
    for key in chosen:
        pipe.memory_usage(key, samples=0)
    sampled = [int(r) for r in pipe.execute() if r]
    return {
        "customers": customers,
        "keys": len(keys),
        "bytes_total": total,
        "bytes_per_customer": round(total / customers) if customers else None,
        "bytes_by_kind": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
        "keys_by_kind": count_by_kind,
        "state_key_bytes_sample_mean": round(sum(sampled) / len(sampled)) if sampled else None,
        "state_keys_sampled": len(sampled),
    }


def key_kind(key: str, prefix: str) -> str:
    """``xo:{B0000001}:state`` → ``state``; ``xo:timers:{p0:3}`` → ``timers``; ``xo:id:…`` → ``id``."""
    rest = key[len(prefix) + 1 :] if key.startswith(prefix + ":") else key
    parts = rest.split(":")
    if parts[0].startswith("{"):
        closing = rest.find("}")
        tail = rest[closing + 2 :] if closing >= 0 else ""
        return tail.split(":", 1)[0] or "customer"
    return parts[0]


def drop_prefix(client: Redis, prefix: str) -> int:
    """UNLINK every key under ``prefix:``; return how many."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=2000))
    for start in range(0, len(keys), 1000):
        client.unlink(*keys[start : start + 1000])
    return len(keys)
