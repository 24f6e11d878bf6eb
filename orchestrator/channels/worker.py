"""One action record → at most one accepted send → receipts back to the events topic.

Per record, in this order (each step's crash behaviour in brackets):

1. decode against the channel's schema; an invalid record is dead-lettered to
   ``<prefix>.actions.<channel>.dlq`` and counted [redelivered: dead-lettered again];
2. look up the dedupe mark of ``action_id``; when there is one, this is a copy (a
   re-publication or a redelivery): produce the receipts it recorded again and send nothing;
3. past ``not_after`` (or within ``expiry_margin`` of it): not sent, counted, a
   ``message.failed`` receipt (``expired``);
3a. a send in a staff member's name (``to.staff_id``) outside their working hours
   (``hours``) is held in Redis (``held.Held``) until they open, then handled from 2 again;
   when they open only after ``not_after``, it expires now (``expired``, counted as
   ``xo_channel_held_total{outcome="expired"}``) [killed after holding: the record comes
   again and is held again, the same member of the same set];
4. count the send against its staff account's daily quota (``quota_exceeded`` beyond it),
   then take a token from the provider's bucket (then check ``not_after`` again);
5. send; a transient failure is retried with capped exponential backoff up to
   ``max_attempts`` (never past ``not_after``); a permanent one, or running out of
   attempts, is dead-lettered with its reason and a ``message.failed`` receipt;
   [killed after the provider accepted and before 6: sent again on restart, with the same
   ``action_id`` as the provider-side idempotency key: at-least-once toward the provider]
6. write the mark (SET NX, the receipts as its value);
7. produce the receipts, keyed by the action's ``customer_id``, and await the acks;
   [killed before: the record comes again, step 2 re-produces them]
8. the consumer commits the batch's offsets after every record of it is through 7.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from pydantic import ValidationError

from orchestrator.adapters.metrics import ChannelMetrics
from orchestrator.channels.contract import ACTIONS, FailureReason, Receipt, make_receipt
from orchestrator.channels.held import Held
from orchestrator.channels.hours import StaffHours
from orchestrator.channels.marks import Marks, StaffQuota
from orchestrator.channels.ratelimit import TokenBucket
from orchestrator.channels.senders import Accepted, PermanentSendError, Sender, TransientSendError
from orchestrator.core import Action
from orchestrator.core.events import describe_validation_error
from orchestrator.service import codec
from orchestrator.service.clock import SystemClock
from orchestrator.service.ports import OutRecord
from orchestrator.service.retry import retrying
from orchestrator.service.topics import Topics

log = logging.getLogger("orchestrator.channels")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    # A send is not started this close to not_after: the provider call takes time too, and
    # "never after not_after" is about when the message reaches the provider.
    expiry_margin: timedelta = timedelta(seconds=1)


@dataclass
class ChannelWorker:
    channel: str
    topics: Topics
    sender: Sender
    marks: Marks
    publish: Callable[[Sequence[OutRecord]], Awaitable[None]]
    bucket: TokenBucket
    metrics: ChannelMetrics
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    quota: StaffQuota | None = None  # per staff account, when the channel sends in a staff member's name
    hours: StaffHours | None = None  # per staff account: sends wait for the staff member's working hours
    held: Held | None = None  # where they wait (needed with ``hours``)
    clock: SystemClock = field(default_factory=SystemClock)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @property
    def dlq(self) -> str:
        return f"{self.topics.actions(self.channel)}.dlq"

    async def handle_all(self, records: Sequence[tuple[bytes | None, str]]) -> None:
        """One partition's records, in order: (value, where it came from)."""
        for value, where in records:
            await self.handle(value, where)

    async def handle(self, raw: bytes | None, where: str) -> bool:
        """Handle one record; True when it is held for a staff member's working hours."""
        action = await self._decode(raw, where)
        if action is None or raw is None:
            return False
        recorded = await retrying(lambda: self.marks.get(action.action_id), "dedupe read")
        if recorded is not None:
            self.metrics.deduplicated.labels(self.channel).inc()
            await self._produce(action, recorded)
            return False
        outcome = await self._hold(action, raw)
        if outcome is None:
            return True
        outcome = outcome or await self._deliver(action, raw, where)
        receipts = [r.model_dump_json(exclude_none=True).encode() for r in outcome]
        now = self.clock.now()
        first = await retrying(lambda: self.marks.put(action.action_id, receipts, action.not_after, now), "mark")
        if not first:  # another outcome was recorded meanwhile (two consumers during a rebalance): it stands
            stored = await retrying(lambda: self.marks.get(action.action_id), "dedupe read")
            receipts = stored or []
        await self._produce(action, receipts)
        return False

    async def release_due(self) -> int:
        """Handle the held sends whose working hours have begun; how many were due."""
        if self.held is None:
            return 0
        held = self.held
        due = await retrying(lambda: held.claim(self.clock.now()), "held claim")
        for raw in due:
            if not await self.handle(raw, "held"):  # held again: the staff member's hours moved
                self.metrics.held.labels(self.channel, "released").inc()
                await retrying(lambda raw=raw: held.done(raw), "held done")  # type: ignore[misc]  # default binds the loop value
        return len(due)

    async def _hold(self, action: Action, raw: bytes) -> list[Receipt] | None:
        """[]: send now; None: held until the staff member's hours; [expired]: they open after not_after."""
        staff = action.to.get("staff_id")
        if self.hours is None or self.held is None or not staff or self._too_late(action):
            return []
        now = self.clock.now()
        opens = self.hours.next_open(staff, now)
        if opens <= now:
            return []
        if opens + self.retry.expiry_margin > action.not_after:
            self.metrics.held.labels(self.channel, "expired").inc()
            detail = (
                f"not sent: staff {staff}'s working hours begin at {opens.isoformat()}, "
                f"after not_after {action.not_after.isoformat()}"
            )
            return [self._expired(action, detail)]
        held = self.held
        await retrying(lambda: held.put(raw, opens), "hold")
        self.metrics.held.labels(self.channel, "held").inc()
        log.info("%s held for staff %s's working hours until %s", action.action_id, staff, opens.isoformat())
        return None

    async def _decode(self, raw: bytes | None, where: str) -> Action | None:
        try:
            ACTIONS[self.channel].model_validate_json(raw or b"")  # the channel's schema: recipient, content
            return Action.model_validate_json(raw or b"")  # senders read ``to`` and ``content`` as dicts
        except ValidationError as exc:
            reason = f"invalid {self.channel} action: {describe_validation_error(exc)}"
            log.warning("dead-lettered %s: %s", where, reason)
            self.metrics.failed.labels(self.channel, FailureReason.invalid_action.value).inc()
            await retrying(
                lambda: self.publish([OutRecord(self.dlq, "", codec.dead_letter(raw, reason, where))]), "dlq"
            )
            return None

    async def _deliver(self, action: Action, raw: bytes, where: str) -> list[Receipt]:
        if self._too_late(action):
            return [self._expired(action)]
        staff = action.to.get("staff_id")
        if self.quota is not None and staff and not await retrying(lambda: self._take(staff), "staff quota"):
            detail = f"staff {staff} has used today's {self.quota.limit} sends"
            return [await self._failed(action, (raw, where), FailureReason.quota_exceeded, detail)]
        await self.bucket.acquire()
        delay, attempt = self.retry.first_delay_s, 0
        while True:
            attempt += 1
            if self._too_late(action):  # the bucket or a backoff took us past it
                return [self._expired(action)]
            started = self.clock.monotonic()
            try:
                accepted = await self.sender.send(action, raw)
            except PermanentSendError as exc:
                return [await self._failed(action, (raw, where), exc.reason, exc.detail)]
            except TransientSendError as exc:
                if attempt >= self.retry.max_attempts:
                    reason = FailureReason.retries_exhausted
                    return [await self._failed(action, (raw, where), reason, f"{attempt} attempts: {exc}")]
                log.warning("%s: attempt %d failed, retrying in %.2fs: %s", action.action_id, attempt, delay, exc)
                self.metrics.retries.labels(self.channel).inc()
                await self.sleep(delay)  # backoff between attempts
                delay = min(self.retry.max_delay_s, delay * 2)
                continue
            self.metrics.latency.labels(self.channel).observe(self.clock.monotonic() - started)
            return self._accepted(action, accepted)

    async def _take(self, staff: str) -> bool:
        assert self.quota is not None  # noqa: S101 - checked by the caller
        return await self.quota.take(staff, self.clock.now())

    def _too_late(self, action: Action) -> bool:
        return self.clock.now() + self.retry.expiry_margin > action.not_after

    def _accepted(self, action: Action, accepted: Accepted) -> list[Receipt]:
        self.metrics.sent.labels(self.channel).inc()
        at = self.clock.now()
        detail = {"detail": f"provider id {accepted.provider_id}"} if accepted.provider_id else {}
        receipts = [make_receipt(action, "message.delivered", at, **detail)]
        receipts.extend(make_receipt(action, kind, at, **fields) for kind, fields in accepted.followups)
        return receipts

    def _expired(self, action: Action, detail: str | None = None) -> Receipt:
        self.metrics.expired.labels(self.channel).inc()
        now = self.clock.now()
        detail = detail or f"not sent: not_after {action.not_after.isoformat()} had passed at {now.isoformat()}"
        return make_receipt(action, "message.failed", now, reason=FailureReason.expired, detail=detail)

    async def _failed(self, action: Action, source: tuple[bytes, str], reason: FailureReason, detail: str) -> Receipt:
        raw, where = source
        log.warning("%s failed for good (%s): %s", action.action_id, reason.value, detail)
        self.metrics.failed.labels(self.channel, reason.value).inc()
        letter = codec.dead_letter(raw, f"{reason.value}: {detail}", where)
        await retrying(lambda: self.publish([OutRecord(self.dlq, action.customer_id, letter)]), "dlq")
        return make_receipt(action, "message.failed", self.clock.now(), reason=reason, detail=detail[:500])

    async def _produce(self, action: Action, receipts: Sequence[bytes]) -> None:
        records = [OutRecord(self.topics.events, action.customer_id, r) for r in receipts]
        await retrying(lambda: self.publish(records), "receipts")
        for receipt in receipts:
            self.metrics.receipts.labels(self.channel, str(orjson.loads(receipt)["type"])).inc()
