"""Cron schedules as a port: the core asks for the next run, the config layer answers.

A schedule trigger's expression (``0 10 * * TUE``, ``@weekly``, ``0 10 * * 1#1``,
``0 10 L * *``) is evaluated on the customer's own wall clock. The core stays free of
third-party parsers: ``World.cron`` is an implementation compiled at load
(``orchestrator.config.cron``, on croniter) and checked by ``orchestrator validate``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class CronPort(Protocol):
    def next_after(self, expression: str, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first run of ``expression`` in ``tz`` strictly after ``moment``, as an aware datetime.

        A local time that does not exist (a DST gap) runs just after the gap; a local time
        that happens twice (the hour repeated when clocks go back) runs once, the first time.
        Raises ValueError for an expression that never runs (validation rejects those).
        """
        ...
