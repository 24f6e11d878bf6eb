"""The demo's closed loop: a console channel worker per channel, its receipts, their dry run.

On ``wecom_private`` the console sender plays the customer and replies to every message,
so a journey that waits for ``message.replied`` moves on (replenish: the associate's
follow-up task). The dry run that the demo checks against gets the same receipts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from datetime import datetime

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.channels.contract import ReceiptType, make_receipt
from orchestrator.channels.process import ChannelProcess
from orchestrator.core import Action, World
from orchestrator.service.simulate import Simulation, simulate
from orchestrator.service.topics import Topics

REPLY = "好的，麻烦帮我留一份"
REPLYING = frozenset({"wecom_private"})  # channels where the demo's customers answer
ROUNDS = 4  # a reply can lead to a send that is answered too; the examples settle in two


def receipts_for(actions: Iterable[Action], at: datetime) -> list[bytes]:
    """What the demo's channel workers report: delivered, and a reply on the replying channels."""
    records = []
    for action in actions:
        kinds: list[tuple[ReceiptType, dict[str, str]]] = [("message.delivered", {})]
        if action.channel in REPLYING:
            kinds.append(("message.replied", {"text": REPLY}))
        for kind, data in kinds:
            records.append(make_receipt(action, kind, at, **data).model_dump_json(exclude_none=True).encode())
    return records


def dry_run_with_receipts(world: World, lines: list[bytes], until: datetime) -> Simulation:
    """The dry run of ``lines`` plus the receipts its actions get (at ``until``), to a fixed point."""
    sim = simulate(world, lines, until=until)
    for _ in range(ROUNDS):
        receipts = receipts_for(sim.actions, until)
        again = simulate(world, [*lines, *receipts], until=until)
        if {a.action_id for a in again.actions} == {a.action_id for a in sim.actions}:
            return again
        sim = again
    return sim


def start_channel_workers(
    stack: ExitStack, env: Mapping[str, str], channels: Iterable[str], group: str, kafka: Mapping[str, object]
) -> list[ChannelProcess]:
    """One console channel worker per channel, stopped when ``stack`` closes."""
    topics = Topics(env.get("XO_TOPIC_PREFIX", "xo"))
    ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"], {f"{topics.actions(c)}.dlq": 1 for c in channels}, kafka)
    workers = []
    for channel in channels:
        reply = ["--reply", REPLY] if channel in REPLYING else []
        worker = ChannelProcess(env, [channel, "--sender", "console", "--group", f"{group}.{channel}", *reply])
        stack.callback(worker.stop)
        workers.append(worker.start())
    return workers


def describe_receipt(value: Mapping[str, object]) -> str | None:
    """A receipt as a demo line, or None for an event that is not one."""
    kind, data = str(value.get("type", "")), value.get("data")
    if not kind.startswith("message.") or not isinstance(data, dict):
        return None
    detail = data.get("text") or data.get("reason") or ""
    return f"  ← {kind:<18} {data.get('customer_id')!s:<8} {data.get('action_id')}  {detail}".rstrip()
