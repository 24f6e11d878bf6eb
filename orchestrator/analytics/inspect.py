"""``orchestrator inspect ID``: one customer as the engine holds them, from Redis and the log topic.

The profile, the scenarios that hit them, each running journey instance (its step, what it
waits for and until when, its arm), the timers, the outbox entries not yet produced, and the
latest journey-log records. ``ID`` is the customer id or any identifier (``phone:+86…``).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orchestrator.adapters.redis_erasure import Held, RedisErasure
from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.analytics.kafka_source import read_topics
from orchestrator.analytics.reader import Log, Window
from orchestrator.bootstrap import load_world, redis_client
from orchestrator.core import CustomerState, World
from orchestrator.core.journey_log import LogRecord
from orchestrator.core.journey_spec import TaskStep, WaitForStep
from orchestrator.settings import Settings

LAST_RECORDS = 20


@dataclass(frozen=True)
class InspectRequest:
    who: str
    days: int = 30  # how far back the log topic is read
    output: str = "text"


def run_inspect(request: InspectRequest, settings: Settings) -> int:
    if not settings.redis_url:
        print("orchestrator inspect: set REDIS_URL", file=sys.stderr)
        return 2
    held = asyncio.run(_read(request.who, settings))
    records: list[LogRecord] | None = None
    if settings.kafka_bootstrap_servers:
        log = Log()
        read_topics(log, settings, Window(since=datetime.now(UTC) - timedelta(days=request.days)))
        records = [r for r in log.sorted() if r.customer_id == held.customer_id][-LAST_RECORDS:]
    view = describe(held, records, load_world(settings)[1])
    if request.output == "json":
        sys.stdout.buffer.write(orjson.dumps(view, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(text(view))
    return 0 if held.state is not None else 1


async def _read(who: str, settings: Settings) -> Held:
    client = redis_client(settings)
    try:
        cid = (await RedisIdentityGraph(client, settings.xo_topic_prefix).resolve([who])).get(who, who)
        return await RedisErasure(client, RedisStore(client, prefix=settings.xo_topic_prefix)).read(cid)
    finally:
        await client.aclose()


def describe(held: Held, records: list[LogRecord] | None, world: World) -> dict[str, Any]:
    state = held.state
    view: dict[str, Any] = {"customer_id": held.customer_id, "stored": state is not None}
    if state is not None:
        p = state.profile
        view["profile"] = {
            "name": p.name,
            "identity": p.identity,
            "lifecycle": p.lifecycle,
            "value_tier": p.value_tier,
            "orders": p.orders,
            "spent": p.spent,
            "last_order_at": p.last_order_at.isoformat() if p.last_order_at else None,
            "tags": list(p.tags),
            "consent": p.consent,
        }
        view["scenarios"] = {k: v.isoformat() for k, v in sorted(p.last_hits.items())}
        view["instances"] = [_instance(state, i, world) for i in state.instances.values()]
        view["timers"] = {t.id: t.due_at.isoformat() for t in sorted(state.timers.values(), key=lambda t: t.due_at)}
        view["version"] = state.version
    view["outbox"] = sorted(held.outbox)
    view["log"] = None if records is None else [r.compact() for r in records]
    return view


def _instance(state: CustomerState, instance: Any, world: World) -> dict[str, Any]:
    timer = state.timers.get(f"wait:{instance.id}")
    journey = world.by_version.get((instance.journey_id, instance.version))
    waits_for = "time"
    if journey is not None and instance.step is not None:
        step = journey.step(instance.step)
        if isinstance(step, WaitForStep):
            waits_for = f"event {step.wait_for.event}"
        elif isinstance(step, TaskStep):
            waits_for = f"task {instance.task}"
    if instance.deferred:
        waits_for = "a send the contact policy deferred"
    return {
        "journey": instance.journey_id,
        "version": instance.version,
        "instance": instance.id,
        "step": instance.step,
        "variant": instance.variant,
        "entered_at": instance.entered_at.isoformat(),
        "waits_for": waits_for,
        "until": timer.due_at.isoformat() if timer else None,
    }


def text(view: dict[str, Any]) -> str:
    if not view["stored"]:
        return f"{view['customer_id']}: nothing stored\n"
    p = view["profile"]
    out = [
        f"{view['customer_id']} {p['name'] or ''} (state v{view['version']})".rstrip(),
        "  identity: " + ", ".join(f"{k} {v}" for k, v in sorted(p["identity"].items())),
        f"  {p['lifecycle']} · tier {p['value_tier'] or '-'} · {p['orders']} orders, ¥{p['spent']:.2f}"
        f" · last order {p['last_order_at'] or '-'}",
        "  tags: " + (", ".join(p["tags"]) or "-"),
        "scenarios: " + (", ".join(f"{k} at {v}" for k, v in view["scenarios"].items()) or "none"),
        "instances:" + ("" if view["instances"] else " none"),
    ]
    for i in view["instances"]:
        arm = f" arm {i['variant']}" if i["variant"] else ""
        until = f" until {i['until']}" if i["until"] else ""
        out.append(f"  {i['journey']} v{i['version']} at {i['step']}{arm}: waits for {i['waits_for']}{until}")
    out.append("timers:" + ("" if view["timers"] else " none"))
    out += [f"  {name} due {due}" for name, due in view["timers"].items()]
    out.append("outbox (not yet produced): " + (", ".join(view["outbox"]) or "empty"))
    if view["log"] is None:
        out.append("journey log: set KAFKA_BOOTSTRAP_SERVERS to read it")
    else:
        out.append(f"journey log (last {LAST_RECORDS}):" + ("" if view["log"] else " none"))
        for r in view["log"]:
            what = " ".join(str(r[k]) for k in ("step", "channel", "variant", "rule", "reason") if k in r)
            out.append(f"  {r['at']} {r['journey']} v{r['version']} {r['kind']} {what}".rstrip())
    return "\n".join(out) + "\n"
