"""Dead letters and record sizes: what goes to the DLQ, and what may be produced at all.

Every dead letter is bounded (payload, reason, key) so that it fits in a Kafka message
whatever the input. Every record the worker produces must fit the producer's limit:
``fits`` is checked before the Redis commit, so a record the broker would refuse for good
is never written to the outbox (where it would be re-produced, and refused, forever);
``oversize_letter`` is the dead letter that takes its place.
"""

from __future__ import annotations

from orchestrator.errors import InputError
from orchestrator.service import codec
from orchestrator.service.ports import OutRecord
from orchestrator.service.report import BatchReport
from orchestrator.service.topics import Topics

# Bounds of a dead letter: even fully escaped it stays far below Kafka's 1 MB message limit.
DLQ_PAYLOAD_BYTES = 64 * 1024
DLQ_REASON_CHARS = 2_000
DLQ_KEY_BYTES = 1_024
# faust's producer refuses a request above 1,000,000 bytes; a record carries ~100 bytes of
# framing besides its key and value, and its topic name travels in the request too.
MAX_OUT_BYTES = 1_000_000 - 4_096


def fits(record: OutRecord) -> bool:
    """Whether the producer will take this record (key and value within its request limit)."""
    return len(record.key.encode()) + len(record.value) + len(record.topic) <= MAX_OUT_BYTES


def oversize_letter(record: OutRecord, what: str, topics: Topics, report: BatchReport) -> OutRecord:
    """The dead letter that replaces a record too large to produce (its head, and why)."""
    size = len(record.key.encode()) + len(record.value)
    reason = f"output too large: {what} for {record.topic} is {size} bytes (the producer takes {MAX_OUT_BYTES})"
    report.rejected["too_large"] += 1
    key = record.key.encode()[:DLQ_KEY_BYTES].decode(errors="replace")
    return OutRecord(topics.dlq, key, codec.dead_letter(_head(record.value, DLQ_PAYLOAD_BYTES), reason, what))


def letter(record_key: bytes | None, value: bytes | None, exc: InputError, where: str, topics: Topics) -> OutRecord:
    """The DLQ record for an input; bounded in size."""
    key = (record_key or b"")[:DLQ_KEY_BYTES].decode(errors="replace")
    reason = exc.reason if len(exc.reason) <= DLQ_REASON_CHARS else f"{exc.reason[:DLQ_REASON_CHARS]}…"
    payload = value
    if payload is not None and len(payload) > DLQ_PAYLOAD_BYTES:
        payload = _head(payload, DLQ_PAYLOAD_BYTES)
        reason = f"{reason} (payload cut to its first {len(payload)} of {len(value or b'')} bytes)"
    return OutRecord(topics.dlq, key, codec.dead_letter(payload, reason, where))


def _head(raw: bytes, size: int) -> bytes:
    """The first ``size`` bytes, shortened so as not to cut a UTF-8 character of a text in two."""
    for cut in range(size, max(size - 4, 0), -1):
        try:
            raw[:cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return raw[:cut]
    return raw[:size]  # not text: the DLQ record carries it as hex


def deeper_than(value: object, limit: int, raw: bytes | None = None) -> bool:
    """Whether lists and objects nest more than ``limit`` levels (iterative: no recursion limit).

    ``raw``: JSON that holds ``value``. Nesting ``limit + 1`` levels takes that many opening
    brackets, so JSON with fewer of them (as good as every event) needs no walk."""
    if raw is not None and raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
