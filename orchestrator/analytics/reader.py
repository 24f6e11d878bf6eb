"""Journey-log records and receipts from lines: ``simulate --log`` files, topic records, event files.

A line may be one log record (what ``simulate --log`` writes), one ``<prefix>.journey-log``
record (``{"input": …, "records": [...]}``), or an event: receipts (``message.delivered``,
``message.clicked``, ``message.replied`` with ``data.action_id``) are kept for the funnel,
other events and other simulate output are passed over. A line that is not JSON or a
record that does not validate is a problem named by ``source:line``; records of a log
version this reader does not know are counted and skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from orchestrator.core.journey_log import LOG_VERSION, LogRecord

RECEIPTS = {"message.delivered": "delivered", "message.clicked": "clicked", "message.replied": "replied"}


@dataclass(frozen=True)
class Window:
    """Records whose ``at`` lies in [since, until]; None: open."""

    since: datetime | None = None
    until: datetime | None = None

    def holds(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at <= self.until)


@dataclass
class Log:
    records: list[LogRecord] = field(default_factory=list)
    receipts: dict[str, set[str]] = field(default_factory=dict)  # action_id → {"delivered", "clicked", …}
    problems: list[str] = field(default_factory=list)  # "source:line: what is wrong"
    unknown_versions: Counter[int] = field(default_factory=Counter)

    def sorted(self) -> list[LogRecord]:
        return sorted(self.records, key=lambda r: r.at)


def read_lines(log: Log, source: str, lines: Iterable[bytes], window: Window = Window()) -> None:
    """Add what ``lines`` (from ``source``, for messages) hold to ``log``."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            payload = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            log.problems.append(f"{source}:{number}: not JSON: {exc}")
            continue
        if isinstance(payload, dict):
            read_payload(log, f"{source}:{number}", payload, window)


def read_payload(log: Log, where: str, payload: dict[str, Any], window: Window) -> None:
    if isinstance(payload.get("records"), list) and "input" in payload:
        for index, item in enumerate(payload["records"]):
            _record(log, f"{where}: records[{index}]", item, window)
    elif "kind" in payload and "v" in payload:
        _record(log, where, payload, window)
    elif payload.get("type") in RECEIPTS:
        data = payload.get("data")
        action = data.get("action_id") if isinstance(data, dict) else None
        if isinstance(action, str):
            log.receipts.setdefault(action, set()).add(RECEIPTS[payload["type"]])


def _record(log: Log, where: str, item: object, window: Window) -> None:
    if not isinstance(item, dict):
        log.problems.append(f"{where}: a log record must be a JSON object")
        return
    version = item.get("v")
    if isinstance(version, int) and version != LOG_VERSION:
        log.unknown_versions[version] += 1
        return
    try:
        record = LogRecord.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"]) or "record"
        log.problems.append(f"{where}: {place}: {first['msg']}")
        return
    if window.holds(record.at):
        log.records.append(record)
