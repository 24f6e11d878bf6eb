"""The shutdown clock: started once by a stop signal, it ends the process at its deadline."""

from __future__ import annotations

import threading

from orchestrator.service.shutdown import ABANDONED, MARGIN_S, ShutdownGuard


def test_the_watchdog_exits_at_the_deadline_and_counts_batches_in_hand() -> None:
    exited = threading.Event()
    codes: list[int] = []

    def exit_process(code: int) -> None:
        codes.append(code)
        exited.set()

    guard = ShutdownGuard(timeout_s=0.3, exit_process=exit_process)
    assert not guard.stopping
    assert guard.remaining() == 0.0
    assert ShutdownGuard(20, codes.append).remaining() == 20 - MARGIN_S
    with guard.batch():
        guard.begin()
        guard.begin()  # a second signal does not restart the clock
        assert guard.stopping
        assert exited.wait(5)
    assert codes == [ABANDONED]
    assert guard.remaining() == 0.0


def test_abandon_exits_with_the_abandoned_code() -> None:
    codes: list[int] = []
    ShutdownGuard(20, codes.append).abandon("process: a batch")
    assert codes == [ABANDONED]
