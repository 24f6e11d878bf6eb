"""Retry what is worth retrying (``errors.is_transient``) with capped exponential backoff, forever.

A permanent error (``PermanentError``, anything not marked transient) is raised at once:
retrying a record the broker will never take would stop the stage for good.

A worker that cannot reach Redis or Kafka stops consuming (it is stuck in here) and
resumes where it was once the dependency is back; nothing is acked meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from orchestrator.errors import OrchestratorError, is_transient

T = TypeVar("T")
log = logging.getLogger("orchestrator.retry")


async def retrying(call: Callable[[], Awaitable[T]], what: str, first: float = 0.05, cap: float = 5.0) -> T:
    delay = first
    attempt = 0
    while True:
        try:
            return await call()
        except OrchestratorError as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            log.warning("%s failed (attempt %d), retrying in %.2fs: %s", what, attempt, delay, exc)
            await asyncio.sleep(delay)  # backoff between attempts, not a wait for a condition
            delay = min(cap, delay * 2)
