"""A bounded shutdown: once a stop signal arrives the process is gone within ``timeout_s``,
whatever Redis or Kafka are doing.

The agents finish the batch in hand if they can; a batch still unfinished near the deadline is
abandoned *unacked* (its records are delivered again to the next owner of the partition, and
the handler's dedupe makes the repeat harmless). A watchdog thread, independent of the event
loop (which may itself be stuck in a client call), ends the process at the deadline. Exit codes:
0 for a clean stop, ``ABANDONED`` (75, EX_TEMPFAIL) when work was abandoned or the framework's
own stop did not complete in time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("orchestrator.shutdown")
ABANDONED = 75
MARGIN_S = 1.0  # left to the watchdog after an agent gives up on its batch


class ShutdownGuard:
    def __init__(self, timeout_s: float, exit_process: Callable[[int], object]) -> None:
        self.timeout_s = timeout_s
        self._exit = exit_process
        self._lock = threading.Lock()
        self._in_flight = 0
        self._deadline: float | None = None

    @property
    def stopping(self) -> bool:
        return self._deadline is not None

    def remaining(self) -> float:
        """Seconds left for an agent to finish its batch before it must give up."""
        if self._deadline is None:
            return max(0.0, self.timeout_s - MARGIN_S)
        return max(0.0, self._deadline - time.monotonic() - MARGIN_S)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Marks a batch in hand (taken but not yet acked)."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def begin(self) -> None:
        """A stop signal arrived: start the clock (once)."""
        with self._lock:
            if self._deadline is not None:
                return
            self._deadline = time.monotonic() + self.timeout_s
        log.warning("stopping: finishing the batches in hand, at most %.0fs", self.timeout_s)
        threading.Thread(target=self._watch, args=(self._deadline,), name="shutdown-watchdog", daemon=True).start()

    def abandon(self, what: str) -> None:
        """Give up on unfinished work: exit now, without acking it."""
        log.critical("%s unfinished at shutdown; exiting without acking it (it will be delivered again)", what)
        self._exit(ABANDONED)

    def _watch(self, deadline: float) -> None:
        time.sleep(max(0.0, deadline - time.monotonic()))
        with self._lock:
            in_flight = self._in_flight
        what = f"{in_flight} batch(es)" if in_flight else "the framework's stop"
        log.critical("shutdown took longer than %.0fs: %s unfinished; exiting", self.timeout_s, what)
        self._exit(ABANDONED)
