"""``orchestrator quarantine list|show|repair|drop``: customers whose stored state cannot be loaded.

The worker quarantines such a customer (its inputs go to the DLQ as "quarantined: unloadable
state: …", counted in ``xo_customers_quarantined_total``) and goes on. Here an operator sees
which customers are quarantined and why, reads a stored state, and makes it loadable again:
``repair`` drops the fields that do not validate (``--dry-run`` first shows which) or writes
a state the operator corrected (``--from FILE``); ``drop`` deletes it, and the customer starts
afresh. Writes are version-checked, so a worker's commit is never overwritten.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import redis

from orchestrator.core.migrations import dump_state, load_state
from orchestrator.core.packing import PackingError, unpack
from orchestrator.service.quarantine import diagnose, repair

# Replace the state only if its version is still the one read (like the worker's commit).
REPLACE_LUA = """
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
return 1
"""


@dataclass(frozen=True)
class QuarantineRequest:
    action: str  # list, show, repair, drop
    customer: str | None
    dry_run: bool = False
    source: Path | None = None  # repair --from FILE


def run_quarantine(request: QuarantineRequest, client: redis.Redis, prefix: str) -> int:
    if request.action == "list":
        return _list(client, prefix)
    if not request.customer:
        print(f"orchestrator quarantine {request.action}: name a customer id", file=sys.stderr)
        return 2
    key = f"{prefix}:{{{request.customer}}}:state"
    stored = client.hmget(key, ["v", "s"])
    if stored[1] is None:
        print(f"orchestrator quarantine: no stored state for {request.customer!r}", file=sys.stderr)
        return 1
    version, raw = int(stored[0] or 0), _bytes(stored[1])
    if request.action == "show":
        print(f"version {version}; {diagnose(raw, request.customer) or 'loads fine'}")
        print(_readable(raw))
        return 0
    if request.action == "drop":
        client.delete(key)
        print(f"dropped the stored state of {request.customer!r}: it starts afresh with its next input")
        return 0
    return _repair(request, client, (key, version, raw))


def _list(client: redis.Redis, prefix: str) -> int:
    found = 0
    for key in client.scan_iter(match=f"{prefix}:{{*}}:state", count=1000):
        raw = client.hget(key, "s")
        cid = key.decode().split("{", 1)[1].rsplit("}", 1)[0]
        why = diagnose(_bytes(raw), cid) if raw is not None else None
        if why is not None:
            found += 1
            print(f"{cid}\t{why}")
    print(f"{found} quarantined customer(s)", file=sys.stderr)
    return 0


def _repair(request: QuarantineRequest, client: redis.Redis, stored: tuple[str, int, bytes]) -> int:
    key, version, raw = stored
    cid = request.customer or ""
    dropped: tuple[str, ...] = ()
    try:
        if request.source is not None:
            state = load_state(request.source.read_bytes(), cid)
            state = state.model_copy(update={"customer_id": cid, "version": version + 1})
        else:
            repaired = repair(raw, cid, version + 1)
            state, dropped = repaired.state, repaired.dropped
    except ValueError as exc:
        print(f"orchestrator quarantine repair {cid}: {exc}", file=sys.stderr)
        return 1
    for path in dropped:
        print(f"drop {path}")
    if request.dry_run:
        print(f"dry run: {len(dropped)} field(s) would be dropped; nothing written")
        return 0
    script = client.register_script(REPLACE_LUA)
    if script(keys=[key], args=[str(version), str(version + 1), dump_state(state)]) != 1:
        print(f"orchestrator quarantine repair {cid}: the state changed meanwhile; run it again", file=sys.stderr)
        return 1
    print(f"repaired {cid!r}: version {version + 1}, {len(dropped)} field(s) dropped; it loads again")
    return 0


def _readable(raw: bytes) -> str:
    """The stored state's JSON, unpacked when it is packed (core/packing.py)."""
    try:
        return unpack(raw).decode(errors="replace")
    except PackingError as exc:
        return f"({len(raw)} bytes that do not unpack: {exc})"


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
