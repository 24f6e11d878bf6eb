"""``orchestrator quarantine``: find the customers whose stored state does not load, read one,
repair it (dry run first) or drop it; afterwards the worker processes the customer again."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
from redis.asyncio import Redis

from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.cli import main
from orchestrator.core import CustomerState
from orchestrator.core.migrations import dump_state
from orchestrator.core.packing import pack
from orchestrator.core.view import plain
from orchestrator.service.clock import SystemClock
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.quarantine import diagnose, repair
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.integration.test_handler_bad_input import Recording
from tests.integration.workers import JOURNEYS, TEMPLATES, customer_events

pytestmark = pytest.mark.integration
NOW = datetime.now(tz=UTC)


def _broken() -> dict[str, object]:
    """A state as the engine used to store it after two orders of 1e308: spent written as null."""
    state = plain(CustomerState.new("M1").model_copy(update={"version": 3}))
    state["profile"]["spent"] = None
    state["profile"]["order_log"] = [{"order_id": "O1", "time": "2026-11-01T00:00:00Z", "amount": None}]
    return state


def test_repair_drops_what_does_not_validate_and_says_what() -> None:
    raw = orjson.dumps(_broken())
    assert diagnose(raw) == (
        "state of M1: profile.spent: Input should be a valid number; "
        "profile.order_log.0.amount: Input should be a valid number"
    )
    repaired = repair(raw, "M1", 4)
    assert repaired.dropped == ("profile.spent", "profile.order_log.0.amount")
    assert (repaired.state.profile.spent, repaired.state.version) == (0.0, 4)
    assert repaired.state.profile.order_log[0].order_id == "O1"  # the record stays, its amount defaults
    assert diagnose(dump_state(repaired.state).encode()) is None
    with pytest.raises(ValueError, match="only `drop` can help"):
        repair(b"{not json", "M1", 1)


async def test_list_show_repair_and_drop_a_quarantined_customer(
    redis_client: Redis,
    redis_url: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)
    await redis_client.hset(f"{prefix}:{{M1}}:state", mapping={"v": "3", "s": orjson.dumps(_broken())})
    await redis_client.hset(f"{prefix}:{{M2}}:state", mapping={"v": "1", "s": b"\xff not json"})

    assert main(["quarantine", "list"]) == 0
    listed = capsys.readouterr()
    assert sorted(line.split("\t")[0] for line in listed.out.splitlines()) == ["M1", "M2"]
    assert "2 quarantined customer(s)" in listed.err
    assert main(["quarantine", "show", "M1"]) == 0
    assert capsys.readouterr().out.startswith("version 3; state of M1: profile.spent: Input should be a valid number")
    assert main(["quarantine", "repair", "M1", "--dry-run"]) == 0
    assert "drop profile.spent\n" in capsys.readouterr().out
    assert (await RedisStore(redis_client, prefix=prefix).load(["M1"]))["M1"].unloadable is not None
    assert main(["quarantine", "repair", "M1"]) == 0
    assert "repaired 'M1': version 4" in capsys.readouterr().out
    assert main(["quarantine", "repair", "M2"]) == 1
    assert "only `drop` can help" in capsys.readouterr().err
    assert main(["quarantine", "drop", "M2"]) == 0
    assert "starts afresh" in capsys.readouterr().out
    assert main(["quarantine", "list"]) == 0
    assert capsys.readouterr().out == ""

    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
    store = RedisStore(redis_client, prefix=prefix)
    handler = Handler(world, store, Recording(), SystemClock(), Topics(prefix))
    records = [
        InRecord(0, n, cid.encode(), value, time.monotonic())
        for n, (cid, value) in enumerate([("M1", customer_events("M1", NOW)[1]), ("M2", customer_events("M2", NOW)[1])])
    ]
    report = await handler.handle(records)
    assert (report.quarantined, dict(report.rejected)) == (0, {})
    loaded = await store.load(["M1", "M2"])
    assert [(s.version, s.profile.orders) for s in (loaded["M1"].state, loaded["M2"].state) if s] == [(5, 1), (1, 1)]


def test_a_packed_state_is_diagnosed_and_repaired_like_plain_json() -> None:
    plain = orjson.dumps(_broken())
    packed = pack(plain)
    assert diagnose(packed) == diagnose(plain)
    assert repair(packed, "M1", 4).dropped == ("profile.spent", "profile.order_log.0.amount")
    with pytest.raises(ValueError, match=r"does not unpack \(codec 1: .*only `drop` can help"):
        repair(packed[:-4], "M1", 4)
    with pytest.raises(ValueError, match=r"packed with codec 2; .*only `drop` can help"):
        repair(b"\x02" + packed[1:], "M1", 4)


async def test_show_prints_the_json_of_a_packed_state(
    redis_client: Redis,
    redis_url: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)
    plain = orjson.dumps(_broken())
    await redis_client.hset(f"{prefix}:{{M1}}:state", mapping={"v": "3", "s": pack(plain)})
    await redis_client.hset(f"{prefix}:{{M2}}:state", mapping={"v": "1", "s": pack(plain)[:-4]})
    assert main(["quarantine", "show", "M1"]) == 0
    first, shown = capsys.readouterr().out.splitlines()
    assert first.startswith("version 3; state of M1: profile.spent: Input should be a valid number")
    assert shown == plain.decode()
    assert main(["quarantine", "show", "M2"]) == 0
    first, shown = capsys.readouterr().out.splitlines()
    assert first.startswith("version 1; state of M2: packed bytes do not unpack (codec 1: ")
    assert shown.startswith(f"({len(pack(plain)) - 4} bytes that do not unpack: codec 1: ")
