"""Schedule journeys on Redis: the audience index kept on commit, and the walk of an occurrence.

The shipped fruit-day journey (Tuesdays 10:00 on the customer's clock, fruit-club members
only) through the real handler and store, wrapped by ``IndexedStore``, on the embedded
Redis (and once on a Redis Cluster of three masters, under ``slow``). The stream is a list
the test hands over; the clock is one the test moves.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest

from orchestrator.adapters.redis_audiences import IndexedStore, RedisAudienceIndex
from orchestrator.adapters.redis_ops import Client, connect
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.ports import OutRecord
from orchestrator.service.scheduler import Pacer, Scheduler
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.e2e.test_golden import JOURNEYS, TEMPLATES
from tests.integration.workers import event

pytestmark = pytest.mark.integration
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)


class Clock:
    def __init__(self) -> None:
        self.at = MONDAY
        self.ticks = 0.0  # what monotonic() says: the pacer's time

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.ticks


class Recording:
    def __init__(self) -> None:
        self.records: list[OutRecord] = []

    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.records.extend(records)


class CrashAfter(Recording):
    """Acknowledges ``pages`` publishes, then the worker dies before saving the cursor."""

    def __init__(self, pages: int) -> None:
        super().__init__()
        self.pages = pages

    async def publish(self, records: Sequence[OutRecord]) -> None:
        await super().publish(records)
        self.pages -= 1
        if self.pages < 0:
            raise SystemExit("worker killed after the produce was acknowledged")


class Engine:
    """One partition: handler over the indexed store, and the audience walk."""

    def __init__(self, client: Client, prefix: str, shards: int = 8) -> None:
        _, self.world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
        self.clock = Clock()
        self.topics = Topics(prefix)
        self.index = RedisAudienceIndex(client, lambda _: 0, prefix, shards)
        self.store = IndexedStore(RedisStore(client, prefix=prefix), self.index, self.world, self.clock)
        self.out = Recording()
        self.handler = Handler(self.world, self.store, self.out, self.clock, self.topics)
        self.offset = 0

    def scheduler(self, publisher: Recording, rate: float = 10_000, page: int = 500) -> Scheduler:
        pacer = Pacer(rate, self.clock)
        return Scheduler(self.world, self.index, publisher, self.clock, self.topics, pacer, page=page)

    async def feed(self, values: Sequence[bytes]) -> None:
        records = []
        for value in values:
            cid = orjson.loads(value).get("customer_id") or orjson.loads(value)["identity"]["member_id"]
            records.append(InRecord(0, self.offset, cid.encode(), value, time.monotonic()))
            self.offset += 1
        await self.handler.handle(records)

    async def register(self, cid: str, club: bool, tz: str = "Asia/Shanghai") -> None:
        data = {"name": cid, "tz": tz, "attributes": {"fruit_club": club}}
        wecom = {"wecom_external_id": f"wm-{cid}"}
        await self.feed([event(f"reg-{cid}-{club}-{tz}", cid, "customer.registered", self.clock.now(), data, **wecom)])

    async def audience(self, tz: str = "Asia/Shanghai") -> list[str]:
        walked = []
        for shard in range(self.index.shards):
            walked += await self.index.page(0, shard, "fruit-day", tz, "", 10_000)
        return sorted(walked)

    def coupons(self) -> list[str]:
        actions = [orjson.loads(r.value) for r in self.out.records if r.topic.endswith(".actions.coupon")]
        return sorted(a["customer_id"] for a in actions)


def _ids(records: Sequence[OutRecord]) -> list[str]:
    return [r.key for r in records]


@pytest.fixture
async def engine(redis_url: str, prefix: str) -> AsyncIterator[Engine]:
    client = connect(redis_url)
    yield Engine(client, prefix)
    await client.aclose()


async def test_the_index_follows_commits_before_and_after(engine: Engine) -> None:
    await engine.register("F1", club=True)
    await engine.register("F2", club=False)
    assert await engine.audience() == ["F1"]
    assert await engine.index.zones("fruit-day") == ["Asia/Shanghai"]
    await engine.register("F2", club=True)
    await engine.register("F1", club=False)  # left the club: removed once the state committed
    assert await engine.audience() == ["F2"]
    await engine.register("F2", club=True, tz="Europe/Berlin")  # moved: the entry moves zone
    assert (await engine.audience(), await engine.audience("Europe/Berlin")) == ([], ["F2"])


async def test_a_fired_schedule_reaches_exactly_its_audience_on_each_clock(engine: Engine) -> None:
    members = [f"M{n:02}" for n in range(0, 30, 3)]
    for n in range(30):
        await engine.register(f"M{n:02}", club=f"M{n:02}" in members)
    await engine.register("B1", club=True, tz="Europe/Berlin")
    walk = Recording()
    scheduler = engine.scheduler(walk)
    assert await scheduler.round([0]) == 0  # Monday: nothing has come yet (the first round sets the cursors)
    engine.clock.at = TUESDAY_10
    assert await scheduler.round([0]) == len(members)
    assert sorted(_ids(walk.records)) == members  # Berlin's 10:00 is seven hours later
    await engine.feed([r.value for r in walk.records])
    assert engine.coupons() == members
    engine.clock.at = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert await scheduler.round([0]) == 1
    assert _ids(walk.records)[-1] == "B1"
    engine.clock.at += timedelta(days=2)
    assert await scheduler.round([0]) == 0  # each occurrence is walked once


async def test_the_walk_keeps_to_its_rate(engine: Engine) -> None:
    for n in range(12):
        await engine.register(f"R{n:02}", club=True)
    walk = Recording()
    scheduler = engine.scheduler(walk, rate=5)
    await scheduler.round([0])
    engine.clock.at = TUESDAY_10
    handed = [await scheduler.round([0]), await scheduler.round([0])]  # no time passed: the bucket is empty
    engine.clock.ticks += 1.0
    handed.append(await scheduler.round([0]))
    engine.clock.ticks += 10.0
    handed.append(await scheduler.round([0]))  # a long pause refills one second's worth, no more
    assert handed == [5, 0, 5, 2]
    assert sorted(_ids(walk.records)) == [f"R{n:02}" for n in range(12)]


async def test_a_walk_resumes_after_a_crash_between_pages_and_nobody_enters_twice(redis_url: str, prefix: str) -> None:
    client = connect(redis_url)
    engine = Engine(client, prefix, shards=1)  # one shard: pages of three in id order
    members = [f"C{n:02}" for n in range(10)]
    for cid in members:
        await engine.register(cid, club=True)
    await engine.scheduler(Recording()).round([0])  # the cursor waits for Tuesday
    engine.clock.at = TUESDAY_10
    crashing = CrashAfter(pages=1)
    with pytest.raises(SystemExit):
        await engine.scheduler(crashing, page=3).round([0])  # page 2 produced, its cursor never saved
    assert _ids(crashing.records) == members[:6]
    restarted = Recording()
    assert await engine.scheduler(restarted, page=3).round([0]) == 7
    assert _ids(restarted.records) == members[3:]  # from the last saved cursor: page 2 again
    await engine.feed([r.value for r in [*crashing.records, *restarted.records]])
    assert engine.coupons() == members  # the core ignored the occurrences handed over twice
    await client.aclose()


@pytest.mark.slow
async def test_the_index_and_a_walk_on_a_redis_cluster(redis_cluster_url: str, prefix: str) -> None:
    client = connect(redis_cluster_url)
    engine = Engine(client, prefix)
    members = [f"K{n:02}" for n in range(0, 20, 2)]
    for n in range(20):
        await engine.register(f"K{n:02}", club=f"K{n:02}" in members)
    await engine.register(members[0], club=False)
    assert await engine.audience() == members[1:]
    walk = Recording()
    scheduler = engine.scheduler(walk, page=4)
    await scheduler.round([0])
    engine.clock.at = TUESDAY_10
    assert await scheduler.round([0]) == len(members) - 1
    await engine.feed([r.value for r in walk.records])
    assert engine.coupons() == members[1:]
    await client.aclose()
