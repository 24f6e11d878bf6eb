"""``orchestrator identity ID``: the canonical customer of any identifier, and what it holds.

ID is ``<type>:<value>`` (``phone:138 0000 0000``, ``wecom_external_id:wm123``) or a bare
member id. It is normalised by the rules of ``journeys/identity.yaml``, looked up in the
identity graph (``REDIS_URL``, or a dry run of ``--events``), and any redirect left by a
merge is followed. Prints the canonical id, the path through redirects, and each of the
customer's identifiers with its owner in the graph (which should be the customer).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world, redis_client
from orchestrator.core import CustomerState
from orchestrator.core.identity import MEMBER_ID, IdentifierError, IdentityRules, normalise
from orchestrator.service.ports import IdentityGraph
from orchestrator.settings import Settings

MAX_REDIRECTS = 20
StateOf = Callable[[str], Awaitable[CustomerState | None]]


def parse_identifier(text: str, rules: IdentityRules) -> str:
    """``<type>:<value>`` (a bare value is a member id), normalised; ValueError saying why not."""
    kind, sep, value = text.partition(":")
    if not sep or kind not in rules.types:
        kind, value = MEMBER_ID, text
    rule = rules.types[kind]
    try:
        return f"{kind}:{normalise(kind, value, rule)}"
    except IdentifierError as exc:
        raise ValueError(str(exc)) from exc


async def describe(key: str, graph: IdentityGraph, state_of: StateOf) -> list[str]:
    """The lines ``orchestrator identity`` prints for one normalised identifier key."""
    owner = (await graph.resolve([key])).get(key)
    if owner is None:
        kind, _, value = key.partition(":")
        new_id = value if kind == MEMBER_ID else key
        return [f"{key}: not in the graph (an event carrying it would make customer {new_id})"]
    lines = [f"{key} → {owner}"]
    cid, state = owner, await state_of(owner)
    for _ in range(MAX_REDIRECTS):
        if state is None or state.redirect_to is None:
            break
        lines.append(f"  {cid} was merged into {state.redirect_to}")
        cid, state = state.redirect_to, await state_of(state.redirect_to)
    lines.append(f"canonical id: {cid}")
    if state is None:
        lines.append("  (no state stored yet)")
        return lines
    owners = await graph.resolve(list(state.identifiers))
    for ident in state.identifiers:
        mark = "" if owners.get(ident) == cid else f"  (graph: {owners.get(ident, 'unowned')})"
        lines.append(f"  {ident}{mark}")
    return lines


def run_identity(text: str, events: Path | None, settings: Settings) -> int:
    _, world = load_world(settings)
    try:
        key = parse_identifier(text, world.identity)
    except ValueError as exc:
        print(f"orchestrator identity: {exc}", file=sys.stderr)
        return 2
    if events is not None:
        return _from_dry_run(key, events, settings)
    if not settings.redis_url:
        print("orchestrator identity: set REDIS_URL, or give --events for a dry run", file=sys.stderr)
        return 2
    store = RedisStore(redis_client(settings), prefix=settings.xo_topic_prefix, packed=settings.xo_pack_states)
    graph = RedisIdentityGraph(store.client, prefix=store.prefix)

    async def state_of(cid: str) -> CustomerState | None:
        return (await store.load([cid]))[cid].state

    async def main() -> list[str]:
        try:
            return await describe(key, graph, state_of)
        finally:
            await store.client.aclose()

    print("\n".join(asyncio.run(main())))
    return 0


def _from_dry_run(key: str, events: Path, settings: Settings) -> int:
    from orchestrator.service.simulate import simulate  # noqa: PLC0415 - only the dry run needs it

    _, world = load_world(settings)
    sim = simulate(world, events.read_bytes().splitlines())

    async def state_of(cid: str) -> CustomerState | None:
        return sim.states.get(cid)

    assert sim.identity_graph is not None  # noqa: S101 - simulate always sets it
    print("\n".join(asyncio.run(describe(key, sim.identity_graph, state_of))))
    return 0
