"""In-process costs of the per-input steps the profile points at, in microseconds per call.

Run on states read back from Redis after the engine run (so they are the sizes the worker
really loads and writes), with the benchmark's journeys. Each figure is the best of
``REPEAT`` timings of ``number`` calls. The alternatives are measured here only, as
evidence for the recommendations; the engine is not changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from redis import Redis

from bench.perf import workload
from bench.perf.runs import JOURNEYS, TEMPLATES
from orchestrator.bootstrap import load_world
from orchestrator.core import CustomerState, Event, process
from orchestrator.core.runtime import Ctx, Effects, variables
from orchestrator.service import codec
from orchestrator.settings import Settings
from orchestrator.templating import Templates

REPEAT = 5


def per_call_us(call: Callable[[], object], number: int = 2000) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        started = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, time.perf_counter() - started)
    return round(best / number * 1e6, 2)


def _states(redis_url: str, prefix: str, customers: list[str]) -> list[bytes]:
    client = Redis.from_url(redis_url)
    try:
        raws = client.pipeline(transaction=False)
        for cid in customers:
            raws.hget(f"{prefix}:{{{cid}}}:state", "s")
        return [r for r in raws.execute() if r]
    finally:
        client.close()


def run_micro(redis_url: str, prefix: str, customers: list[str]) -> dict[str, Any]:
    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
    raws = _states(redis_url, prefix, customers[:200])
    if not raws:
        return {}
    raw = sorted(raws, key=len)[len(raws) // 2]  # the median-sized state
    state = CustomerState.model_validate_json(raw)
    cid = state.customer_id
    now = datetime.now(tz=UTC)
    chat = workload.event("m-1", cid, "chat.message", now, {"text": "好的", "from": "customer"})
    asking = workload.event("m-2", cid, "chat.message", now, {"text": "蛋白粉快吃完了", "from": "customer"})
    _, chat_event = codec.decode_input(chat)
    _, asking_event = codec.decode_input(asking)
    assert isinstance(chat_event, Event)  # noqa: S101 - made above
    assert isinstance(asking_event, Event)  # noqa: S101 - made above
    ctx = Ctx(world=world, now=now, event=chat_event)
    templates = world.conditions
    assert isinstance(templates, Templates)  # noqa: S101 - load_world builds Templates
    dotted = "'快吃完' in event.data.text or '什么牌子' in event.data.text or '用完了' in event.data.text"
    subscript = (
        "'快吃完' in event['data']['text'] or '什么牌子' in event['data']['text'] or '用完了' in event['data']['text']"
    )
    templates.compile_condition(dotted)
    templates.compile_condition(subscript)
    scope = variables(state, None, ctx, Effects())
    states = [CustomerState.model_validate_json(r) for r in raws[:50]]
    # A long-lived customer: the dedupe window full (SEEN_WINDOW event ids).
    window = state.model_copy(update={"seen": tuple(f"{cid}-c{n:07d}" for n in range(256))})
    window_raw = window.model_dump_json().encode()
    return {
        "state_json_bytes_median": len(raw),
        "state_seen_ids": len(state.seen_digests),
        "decode_input_orjson_validate_us": per_call_us(lambda: codec.decode_input(chat)),
        "event_model_validate_json_us": per_call_us(lambda: Event.model_validate_json(chat)),
        "state_model_validate_json_us": per_call_us(lambda: CustomerState.model_validate_json(raw), 500),
        "state_model_dump_json_us": per_call_us(state.model_dump_json, 500),
        "state_full_window_json_bytes": len(window_raw),
        "state_full_window_validate_json_us": per_call_us(lambda: CustomerState.model_validate_json(window_raw), 500),
        "state_full_window_dump_json_us": per_call_us(window.model_dump_json, 500),
        "state_json_stdlib_loads_us": per_call_us(lambda: json.loads(raw), 500),
        "state_orjson_loads_us": per_call_us(lambda: orjson.loads(raw), 500),
        "process_plain_chat_us": per_call_us(lambda: process(state, chat_event, now, world), 500),
        "process_asking_chat_us": per_call_us(lambda: process(state, asking_event, now, world), 500),
        "process_plain_chat_50_states_us": per_call_us(lambda: [process(s, chat_event, now, world) for s in states], 10)
        / len(states),
        "variables_us": per_call_us(lambda: variables(state, None, ctx, Effects())),
        "event_model_dump_json_mode_us": per_call_us(lambda: chat_event.model_dump(mode="json")),
        "condition_dotted_us": per_call_us(lambda: templates.evaluate(dotted, scope)),
        "condition_subscript_us": per_call_us(lambda: templates.evaluate(subscript, scope)),
        "state_model_copy_us": per_call_us(lambda: state.model_copy(update={"version": 1})),
    }
