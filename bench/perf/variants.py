"""One measured run of each variant: its window (first processed → last) and the CPU of every role.

Every run reads a pre-produced backlog; its counters are sampled every ``runs.POLL_S`` with
the CPU seconds (utime + stime from /proc) of the measured process(es), the broker, Redis,
this process and the whole machine, so ``others`` is the load that was not ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.perf import procs
from bench.perf.runs import REPO, START_TIMEOUT_S, Env, Probe, engine_counts, watch, worker_env
from bench.perf.stats import ROLES, Sample, Window, window
from orchestrator.embedded import free_port
from orchestrator.harness import WorkerProcess
from orchestrator.service.topics import Topics


@dataclass
class Run:
    variant: str
    round: int
    window: Window
    startup_s: float  # process start → the window's first sample (group join included)
    counts: dict[str, float]  # final counters
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        w = self.window
        return {
            "variant": self.variant,
            "round": self.round,
            "inputs": w.count,
            "window_s": round(w.seconds, 2),
            "inputs_per_s": round(w.per_s, 1),
            "us_per_input": {r: _round(w.us_per_input(r)) for r in ROLES if r in w.cpu_s},
            "cores": {r: _round(w.cores(r), 3) for r in (*ROLES, "others") if r in w.cpu_s},
            "startup_s": round(self.startup_s, 2),
            "counts": self.counts,
            **self.extra,
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Which:
    variant: str
    round: int


def _measure(
    which: Which, samples: Sequence[Sample], started_at: float, started: Callable[[Sample], bool] | None = None
) -> Run:
    w = window(samples, "inputs", started)
    first = next(s for s in samples if s.counts.get("inputs", 0.0) > 0)
    return Run(which.variant, which.round, w, first.t - started_at, dict(samples[-1].counts))


class _Child:
    """A benchmark helper process (``python -m <module>``) logging to a temp file."""

    def __init__(self, module: str, env: dict[str, str]) -> None:
        self.log = Path(tempfile.mkstemp(prefix="xo-bench-child-", suffix=".log")[1])
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
                [sys.executable, "-m", module],
                env={**os.environ, **env},
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


Read = Callable[[], dict[str, float]]


def _watch_child(env: Env, child: _Child, label: str, read: Read, events: int) -> list[Sample]:
    probe = Probe(
        label,
        read,
        {"worker": child.proc.pid, **env.servers.pids},
        lambda c: c["inputs"] >= events,
        child.alive,
    )
    try:
        return watch(probe, env.out, timeout=START_TIMEOUT_S + events / 500, settle_s=0.5)
    except BaseException:
        env.out(f"{label} log tail:\n{child.tail()}")
        raise


def run_reader(env: Env, topic: str, events: int, decode: bool, round_: int) -> Run:
    """aiokafka alone (``bench/perf/reader.py``) reading ``events`` records, decoding them or not."""
    progress = Path(tempfile.mkstemp(prefix="xo-reader-", suffix=".count")[1])
    variant = "aiokafka_decode" if decode else "aiokafka"
    variables = {
        **worker_env(env.servers, "unused", env.knobs),
        "BENCH_TOPIC": topic,
        "BENCH_GROUP_ID": f"{topic}-{variant}-r{round_}",
        "BENCH_DECODE": "1" if decode else "0",
        "BENCH_PROGRESS_FILE": str(progress),
    }
    started = time.monotonic()
    child = _Child("bench.perf.reader", variables)

    def read() -> dict[str, float]:
        text = progress.read_text().strip()
        return {"inputs": float(text or 0)}

    try:
        samples = _watch_child(env, child, variant, read, events)
    finally:
        child.stop()
    return _measure(Which(variant, round_), samples, started)


def run_faust_counter(env: Env, topic: str, events: int, round_: int) -> Run:
    """The bare faust agent (``bench/perf/bare_agent.py``) counting ``events`` records."""
    port = free_port()
    variables = {
        **worker_env(env.servers, "unused", env.knobs),
        "BENCH_GROUP_ID": f"{topic}-faust-r{round_}",
        "BENCH_WEB_PORT": str(port),
        "BENCH_TOPIC": topic,
    }
    started = time.monotonic()
    child = _Child("bench.perf.bare_agent", variables)

    def read() -> dict[str, float]:
        return {"inputs": procs.metric_sum(procs.scrape(port), "bare_events_total")}

    try:
        samples = _watch_child(env, child, "faust_counter", read, events)
    finally:
        child.stop()
    return _measure(Which("faust_counter", round_), samples, started)


def start_workers(env: Env, prefix: str, workers: int) -> list[WorkerProcess]:
    """``workers`` engine processes of one group on the prefix, each with its own data dir and port."""
    return [WorkerProcess(worker_env(env.servers, prefix, env.knobs)).start() for _ in range(workers)]


def _engine_counts(workers: Sequence[WorkerProcess]) -> dict[str, float]:
    total: dict[str, float] = {}
    for n, worker in enumerate(workers):
        counts = engine_counts(worker)
        for key, value in counts.items():
            total[key] = total.get(key, 0.0) + value
        total[f"inputs_w{n}"] = counts["inputs"]
    return total


def run_engine(env: Env, prefix: str, events: int, which: Which, workers: int = 1) -> Run:
    """``workers`` engine processes over the prefix's backlog of ``events`` events.

    The window opens when every worker has processed something (a second process joining
    the group moves partitions once; that start-up is outside the window) and closes at the
    last input (events and the timers they made due). The workers are stopped afterwards.
    """
    started = time.monotonic()
    variant = which.variant
    procs_ = start_workers(env, prefix, workers)
    pids = {f"worker{n}": w.proc.pid for n, w in enumerate(procs_) if w.proc is not None}
    probe = Probe(
        variant,
        lambda: _engine_counts(procs_),
        {**pids, **env.servers.pids},
        lambda c: c["events"] + c["rejected"] >= events,
        lambda: all(w.alive() for w in procs_),
    )
    try:
        samples = watch(probe, env.out, timeout=START_TIMEOUT_S + events / 100)
    except BaseException:
        for w in procs_:
            env.out(f"worker log tail:\n{w.log_tail()}")
            w.stop()
        raise
    every = [f"inputs_w{n}" for n in range(workers)]

    def opened(s: Sample) -> bool:
        return all(s.counts.get(k, 0) > 0 for k in every)

    run = _measure(which, samples, started, started=opened)
    run.extra["events_per_s"] = round(window(samples, "events", opened).per_s, 1)
    run.extra["workers"] = workers
    if workers > 1:
        run.extra.update(_all_busy(samples, every, opened))
    run.extra["peak_rss_mb"] = [procs.peak_rss_mb(w.proc.pid) for w in procs_ if w.proc is not None]
    for w in procs_:
        w.stop()
    return run


def _all_busy(samples: Sequence[Sample], every: list[str], opened: Callable[[Sample], bool]) -> dict[str, Any]:
    """When each worker had done its share (seconds into the window), and the rate while all were
    busy: a backlog splits unevenly across partitions, so the last worker runs alone at the end."""
    start = samples[max(next(i for i, s in enumerate(samples) if opened(s)) - 1, 0)]
    done = [_first_at(samples, key).t - start.t for key in every]
    end = _first_at(samples, every[min(range(len(every)), key=done.__getitem__)])
    count = end.counts.get("inputs", 0.0) - start.counts.get("inputs", 0.0)
    seconds = max(end.t - start.t, 1e-9)
    return {"worker_done_s": [round(d, 2) for d in done], "inputs_per_s_all_busy": round(count / seconds, 1)}


def _first_at(samples: Sequence[Sample], key: str) -> Sample:
    final = samples[-1].counts.get(key, 0.0)
    return next(s for s in samples if s.counts.get(key, 0.0) >= final)


def topic_of(prefix: str) -> str:
    return Topics(prefix).events
