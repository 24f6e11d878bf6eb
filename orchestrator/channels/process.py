"""``python -m orchestrator channel …`` as a child process, for the demo and the tests."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence

from orchestrator.embedded import ChildProcess, free_port

READY = "channel worker ready"


class ChannelProcess(ChildProcess):
    """A channel worker with the given environment and arguments; logs to a temp file."""

    def __init__(self, env: Mapping[str, str], args: Sequence[str]) -> None:
        self.web_port = free_port()
        argv = [sys.executable, "-m", "orchestrator", "channel", *args, "--port", str(self.web_port)]
        super().__init__(argv, {**os.environ, **env}, "xo-channel-")

    def wait_ready(self, timeout: float) -> bool:
        """Until it has partitions (its log says so); False if it died or the time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            if READY in self.log_path.read_text(errors="replace"):
                return True
            time.sleep(0.05)  # polling a log file: there is nothing to await
        return False
