"""The reference channel worker against the real broker and Redis, with a recording provider."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

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


def _id(record: bytes) -> str:
    return str(orjson.loads(record)["action_id"])


async def test_republished_actions_are_sent_once_and_their_receipt_repeats_byte_for_byte(
    kafka_bootstrap: str, redis_url: str, prefix: str
) -> None:
    topics = Topics(prefix)
    first, second = action_record(1), action_record(2)
    provider = Recording()
    async with channel_worker(make_options(kafka_bootstrap, redis_url, prefix), provider) as metrics:
        copies = [("C1", first), ("C2", second), ("C1", first), ("C1", first)]
        await produce(kafka_bootstrap, topics.actions(CHANNEL), copies)
        got = await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 4)
        assert sorted(provider.calls) == sorted([_id(first), _id(second)])
        sample = metrics()
    by_action: dict[str, set[bytes]] = {}
    for key, value in got:
        receipt = orjson.loads(value)
        assert key == receipt["data"]["customer_id"] == receipt["identity"]["member_id"]
        by_action.setdefault(receipt["data"]["action_id"], set()).add(value)
    assert {k: len(v) for k, v in by_action.items()} == {_id(first): 1, _id(second): 1}  # copies are identical
    assert {r["type"] for r in receipts(got)} == {"message.delivered"}
    assert sample[f'xo_channel_sent_total{{channel="{CHANNEL}"}}'] == 2
    assert sample[f'xo_channel_deduplicated_total{{channel="{CHANNEL}"}}'] == 2
    assert sample[f'xo_channel_send_seconds_count{{channel="{CHANNEL}"}}'] == 2


async def test_an_action_past_not_after_is_never_sent(kafka_bootstrap: str, redis_url: str, prefix: str) -> None:
    topics = Topics(prefix)
    stale = action_record(3, ttl=timedelta(seconds=-1))
    provider = Recording()
    async with channel_worker(make_options(kafka_bootstrap, redis_url, prefix), provider) as metrics:
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("C3", stale)])
        [receipt] = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 1))
        sample = metrics()
    assert provider.calls == []
    assert receipt["type"] == "message.failed"
    assert receipt["data"]["reason"] == "expired"
    assert receipt["data"]["action_id"] == _id(stale)
    assert sample[f'xo_channel_expired_total{{channel="{CHANNEL}"}}'] == 1
    assert (
        f'xo_channel_sent_total{{channel="{CHANNEL}"}}' not in sample
        or sample[f'xo_channel_sent_total{{channel="{CHANNEL}"}}'] == 0
    )


async def test_transient_failures_are_retried_and_the_message_is_sent_once(
    kafka_bootstrap: str, redis_url: str, prefix: str
) -> None:
    topics = Topics(prefix)
    record = action_record(4)
    provider = Recording(script={_id(record): ["transient", "transient", "ok"]})
    async with channel_worker(make_options(kafka_bootstrap, redis_url, prefix), provider) as metrics:
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("C4", record)])
        [receipt] = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 1))
        sample = metrics()
    assert provider.calls == [_id(record)] * 3
    assert provider.accepted == [_id(record)]
    assert receipt["type"] == "message.delivered"
    assert sample[f'xo_channel_retries_total{{channel="{CHANNEL}"}}'] == 2
    assert sample[f'xo_channel_sent_total{{channel="{CHANNEL}"}}'] == 1


async def test_permanent_failures_and_exhausted_retries_are_dead_lettered_with_a_failed_receipt(
    kafka_bootstrap: str, redis_url: str, prefix: str
) -> None:
    topics = Topics(prefix)
    gone, busy, bad = action_record(5), action_record(6), b'{"action_id": "x", "channel": "wecom_private"}'
    provider = Recording(script={_id(gone): ["permanent"], _id(busy): ["transient"] * 3})
    options = make_options(kafka_bootstrap, redis_url, prefix, max_attempts=3)
    async with channel_worker(options, provider) as metrics:
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("C5", gone), ("C6", busy), ("C7", bad)])
        got = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 2))
        letters = await read_until(kafka_bootstrap, f"{topics.actions(CHANNEL)}.dlq", lambda got: len(got) >= 3)
        sample = metrics()
    reasons = {r["data"]["action_id"]: (r["type"], r["data"]["reason"]) for r in got}
    assert reasons == {
        _id(gone): ("message.failed", "unreachable"),
        _id(busy): ("message.failed", "retries_exhausted"),
    }
    assert provider.accepted == []
    assert len(provider.calls) == 1 + 3
    dead = sorted(str(orjson.loads(v)["reason"]).split(":")[0] for _, v in letters)
    assert dead == ["invalid wecom_private action", "retries_exhausted", "unreachable"]
    assert sample[f'xo_channel_failed_total{{channel="{CHANNEL}",reason="unreachable"}}'] == 1
    assert sample[f'xo_channel_failed_total{{channel="{CHANNEL}",reason="invalid_action"}}'] == 1


async def test_the_dedupe_mark_outlives_a_restart(kafka_bootstrap: str, redis_url: str, prefix: str) -> None:
    """A copy consumed by a new worker (a new group, as after a lost offset) is still not sent again."""
    topics = Topics(prefix)
    record = action_record(8)
    first = Recording()
    async with channel_worker(make_options(kafka_bootstrap, redis_url, prefix), first):
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("C8", record)])
        await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 1)
    again = Recording()
    async with channel_worker(make_options(kafka_bootstrap, redis_url, prefix, group=f"{prefix}-other"), again):
        await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 2)
    assert first.accepted == [_id(record)]
    assert again.calls == []


async def test_a_staff_account_sends_no_more_than_its_daily_quota(
    kafka_bootstrap: str, redis_url: str, prefix: str
) -> None:
    topics = Topics(prefix)
    li = [action_record(30 + n, customer=f"C{30 + n}", staff="S-li") for n in range(3)]
    wang = action_record(40, staff="S-wang")
    provider = Recording()
    options = make_options(kafka_bootstrap, redis_url, prefix, staff_quota=2)
    async with channel_worker(options, provider) as metrics:
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("S", r) for r in [*li, wang]])
        got = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 4))
        sample = metrics()
    assert sorted(provider.accepted) == sorted([_id(li[0]), _id(li[1]), _id(wang)])
    [refused] = [r for r in got if r["type"] == "message.failed"]
    assert (refused["data"]["action_id"], refused["data"]["reason"]) == (_id(li[2]), "quota_exceeded")
    assert sample[f'xo_channel_failed_total{{channel="{CHANNEL}",reason="quota_exceeded"}}'] == 1
