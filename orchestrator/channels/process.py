"""``python -m orchestrator channel …`` as a child process, for the demo and the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.embedded import free_port

READY = "channel worker ready"


class ChannelProcess:
    """A channel worker with the given environment and arguments; logs to a temp file."""

    def __init__(self, env: Mapping[str, str], args: Sequence[str]) -> None:
        self.web_port = free_port()
        self.env = {**os.environ, **env}
        self.argv = [sys.executable, "-m", "orchestrator", "channel", *args, "--port", str(self.web_port)]
        self.log_path = Path(tempfile.mkstemp(prefix="xo-channel-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ChannelProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own CLI
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float) -> bool:
        """Until it has partitions (its log says so); False if it died or the time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            if READY in self.log_path.read_text(errors="replace"):
                return True
            time.sleep(0.05)  # polling a log file: there is nothing to await
        return False

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (finish the batch, commit), then SIGKILL if it does not stop in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]
