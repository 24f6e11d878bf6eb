"""The webhook sender against a real local HTTP receiver that checks what a receiver should."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import web

from orchestrator.channels.webhook import verify
from orchestrator.embedded import free_port
from orchestrator.service.topics import Topics
from tests.channels.helpers import CHANNEL, action_record, channel_worker, make_options, produce, read_until, receipts

pytestmark = pytest.mark.integration
SECRET = b"s3cret-shared-with-the-receiver"


@dataclass
class Receiver:
    """Verifies the signature on its own (not with the sender's code), refuses stale or forged
    requests, answers 503 to the first attempt of each key, and deduplicates on Idempotency-Key."""

    port: int
    attempts: list[str] = field(default_factory=list)
    delivered: dict[str, bytes] = field(default_factory=dict)
    forged: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers["X-XO-Timestamp"]
        expected = "sha256=" + hmac.new(SECRET, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers["X-XO-Signature"]) or abs(time.time() - int(stamp)) > 300:
            self.forged += 1
            return web.Response(status=401)
        key = request.headers["Idempotency-Key"]
        assert key == orjson.loads(body)["action_id"]
        assert request.headers["Content-Type"] == "application/json"
        self.attempts.append(key)
        if "refuse" in orjson.loads(body)["content"]["text"]:
            return web.Response(status=422, text="template not approved")
        if self.attempts.count(key) == 1:
            return web.Response(status=503, text="try later")
        self.delivered.setdefault(key, body)
        return web.Response(status=200, headers={"X-Request-Id": f"r-{len(self.delivered)}"})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver(free_port())
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", got.port).start()
    yield got
    await runner.cleanup()


async def test_signed_posts_retried_on_5xx_refused_on_4xx(
    kafka_bootstrap: str, redis_url: str, prefix: str, receiver: Receiver
) -> None:
    topics = Topics(prefix)
    good = action_record(21)
    refused = action_record(22).replace("消息 22".encode(), b"refuse me")
    options = make_options(
        kafka_bootstrap,
        redis_url,
        prefix,
        sender="webhook",
        url=f"http://127.0.0.1:{receiver.port}/hook",
        secret=SECRET,
    )
    async with channel_worker(options) as metrics:
        await produce(kafka_bootstrap, topics.actions(CHANNEL), [("C21", good), ("C22", refused), ("C21", good)])
        got = receipts(await read_until(kafka_bootstrap, topics.events, lambda got: len(got) >= 3))
        sample = metrics()
    good_id, refused_id = (str(orjson.loads(r)["action_id"]) for r in (good, refused))
    assert receiver.forged == 0
    assert receiver.delivered == {good_id: good}  # the body is the record byte for byte
    assert receiver.attempts.count(good_id) == 2  # 503, then 200; the copy was not posted
    assert receiver.attempts.count(refused_id) == 1  # a 4xx is not retried
    outcome = {(r["data"]["action_id"], r["type"], r["data"].get("reason")) for r in got}
    assert outcome == {(good_id, "message.delivered", None), (refused_id, "message.failed", "rejected")}
    assert sample[f'xo_channel_failed_total{{channel="{CHANNEL}",reason="rejected"}}'] == 1
    assert sample[f'xo_channel_retries_total{{channel="{CHANNEL}"}}'] == 1


def test_verify_refuses_forged_stale_and_malformed_requests() -> None:
    body = action_record(1)
    stamp = str(int(time.time()))
    good = "sha256=" + hmac.new(SECRET, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert verify(SECRET, stamp, body, good, now=time.time())
    assert not verify(SECRET, stamp, body + b" ", good, now=time.time())  # a changed body
    assert not verify(b"other", stamp, body, good, now=time.time())
    assert not verify(SECRET, stamp, body, good, now=time.time() + 301)  # a replay, later
    assert not verify(SECRET, "yesterday", body, good, now=time.time())
