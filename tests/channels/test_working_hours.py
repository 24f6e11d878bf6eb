"""Per-staff working hours in the reference channel worker, against the real broker and Redis.

The worker runs on a clock set a few seconds before 09:00 in Shanghai, when S-li's hours
begin: her sends are held (in Redis) and go at 09:00, a colleague with all-day hours is sent
at once, and a send whose not_after comes before 09:00 expires at once with its reason.
A worker stopped while a send is held leaves it in Redis; the next one sends it, once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from redis.asyncio import Redis

from orchestrator.channels.held import Held
from orchestrator.service.clock import SystemClock
from orchestrator.service.topics import Topics
from tests.channels.helpers import (
    CHANNEL,
    Recording,
    action_record,
    channel_worker,
    make_options,
    produce,
    read_until,
    receipts,
)

pytestmark = pytest.mark.integration
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = """\
tz: Asia/Shanghai
default: {hours: "00:00-24:00"}
staff:
  S-li: {hours: "09:00-18:00"}
"""


class ShiftedClock(SystemClock):
    """The real clock moved so that it reads ``start`` now."""

    def __init__(self, start: datetime) -> None:
        self.offset = start - datetime.now(tz=UTC)

    def now(self) -> datetime:
        return super().now() + self.offset


def _before_nine(seconds: float) -> datetime:
    today = datetime.now(tz=SHANGHAI).date()
    return datetime.combine(today, time(9, 0), SHANGHAI) - timedelta(seconds=seconds)


def _record(n: int, staff: str, clock: SystemClock, ttl: timedelta) -> bytes:
    """An action created on ``clock``'s time, not after ``ttl`` from then."""
    value = orjson.loads(action_record(n, customer=f"C{n}", staff=staff))
    now = clock.now()
    value["created_at"], value["not_after"] = now.isoformat(), (now + ttl).isoformat()
    return orjson.dumps(value)


def _id(record: bytes) -> str:
    return str(orjson.loads(record)["action_id"])


def _hours_file(tmp_path: Path) -> Path:
    path = tmp_path / "staff-hours.yaml"
    path.write_text(HOURS, encoding="utf-8")
    return path


async def test_a_staff_send_waits_for_her_hours_and_one_past_not_after_expires(
    kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    topics = Topics(prefix)
    clock = ShiftedClock(_before_nine(12))
    provider = Recording()
    options = make_options(kafka_bootstrap, redis_url, prefix, staff_hours=_hours_file(tmp_path))
    async with channel_worker(options, provider, clock) as metrics:
        li = _record(1, "S-li", clock, timedelta(hours=1))
        li_short = _record(2, "S-li", clock, (_before_nine(0) - clock.now()) / 2)  # gone before 09:00
        wang = _record(3, "S-wang", clock, timedelta(hours=1))
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("S", r) for r in (li, li_short, wang)])
        early = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 2))
        assert provider.accepted == [_id(wang)]  # S-li's send is held, not sent
        assert clock.now() < _before_nine(0)
        got = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 3))
        sample = metrics()
    assert provider.accepted == [_id(wang), _id(li)]
    [expired] = [r for r in early if r["type"] == "message.failed"]
    assert (expired["data"]["action_id"], expired["data"]["reason"]) == (_id(li_short), "expired")
    assert "S-li's working hours begin at" in expired["data"]["detail"]
    [delivered] = [r for r in got if r["type"] == "message.delivered" and r["data"]["action_id"] == _id(li)]
    assert datetime.fromisoformat(delivered["time"]) >= _before_nine(0)
    held = f'xo_channel_held_total{{channel="{CHANNEL}",outcome='
    assert (sample[held + '"held"}'], sample[held + '"released"}'], sample[held + '"expired"}']) == (1, 1, 1)
    assert sample[f'xo_channel_expired_total{{channel="{CHANNEL}"}}'] == 1


async def test_a_held_send_survives_a_restart_and_a_republished_copy_and_goes_once(
    kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    topics = Topics(prefix)
    first_clock = ShiftedClock(_before_nine(600))  # ten minutes early: held well past this worker's life
    li = _record(1, "S-li", first_clock, timedelta(hours=1))
    provider = Recording()
    options = make_options(kafka_bootstrap, redis_url, prefix, staff_hours=_hours_file(tmp_path))
    async with channel_worker(options, provider, first_clock) as metrics:
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("S", li), ("S", li)])  # and a re-published copy
        for _ in range(300):
            if metrics().get(f'xo_channel_held_total{{channel="{CHANNEL}",outcome="held"}}') == 2:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the send was not held")
    assert provider.calls == []
    redis = Redis.from_url(redis_url)
    try:
        assert await Held(redis, prefix, CHANNEL).count() == 1  # the copy is the same member
        later = ShiftedClock(_before_nine(-5))  # the next worker starts after 09:00
        async with channel_worker(options, provider, later):
            got = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 1))
        assert provider.calls == [_id(li)]
        assert [r["type"] for r in got] == ["message.delivered"]
        assert await Held(redis, prefix, CHANNEL).count() == 0
    finally:
        await redis.aclose()
