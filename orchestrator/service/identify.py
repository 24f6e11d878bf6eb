"""Stage one: validate raw events and re-key them by canonical customer id (the OneID seam).

Valid events are forwarded byte for byte to the by-customer topic keyed by customer, so
that one worker sees all of a customer's inputs in order; invalid ones go to the DLQ.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.errors import InputError
from orchestrator.service import codec
from orchestrator.service.handler import InRecord, reject
from orchestrator.service.ports import OutRecord, Publisher
from orchestrator.service.report import BatchReport
from orchestrator.service.topics import Topics


async def route(records: Sequence[InRecord], publisher: Publisher, topics: Topics) -> BatchReport:
    report = BatchReport()
    out: list[OutRecord] = []
    for record in records:
        try:
            cid, _ = codec.decode_event(record.value)
        except InputError as exc:
            out.append(reject(record, exc, topics.events, topics, report))
            continue
        out.append(OutRecord(topics.by_customer, cid, record.value or b""))
    await publisher.publish(out)
    return report
