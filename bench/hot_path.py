"""The hot path before and after the single pass: CPU per input, interleaved rounds.

    .venv/bin/python -m bench.hot_path [--before REV] [--rounds 3] [--customers 4000] [--events 20000]

Exports two revisions of ``orchestrator/`` (``--before``, default ``HEAD~1``, and the work
tree) into temporary directories and runs each as ``python -m orchestrator worker`` over its
own copy of the same backlog (``bench/perf/workload.py``: registrations, orders whose cycle
timer is due at once, chat lines, receipts; keyed by member id as the sources key them, or
with ``--wecom-keyed`` the chat lines by their WeCom id, which the single pass re-keys),
``--rounds`` times, the variants interleaved so that other load on the machine falls on
both. Per run: worker CPU (from /proc) per input (events + timers fired) over the window
from the first processed input to the last, inputs per second, and the CPU other processes
used meanwhile. Then the medians, and the same for the consumption alone: faust's agent
counting with ``take_events`` (``bench/perf/bare_agent.py``) against the batch consumer
(``orchestrator/faust_batch.py``) counting (``bench/hot_path_counter.py``).

Reuses bench/perf (read-only); starts an embedded Kafka and Redis unless
KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are set. Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.perf import procs, runs, variants, workload
from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis, free_port
from orchestrator.service.topics import Topics

REPO = runs.REPO


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="HEAD~1", help="git revision of the 'before' engine")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--counter-events", type=int, default=0, help="records for the consumption rows (0: none)")
    parser.add_argument(
        "--wecom-keyed",
        action="store_true",
        help="key chat lines by the WeCom id they carry (as a WeCom bot would): those take the second hop",
    )
    parser.add_argument("--out", type=Path, default=None)
    return parser


def _export(rev: str | None, into: Path) -> Path:
    """``orchestrator/`` of a revision (None: the work tree) under ``into``."""
    into.mkdir(parents=True)
    if rev is None:
        subprocess.run(["cp", "-r", str(REPO / "orchestrator"), str(into)], check=True)  # noqa: S603, S607
    else:
        archive = subprocess.run(  # noqa: S603
            ["git", "-C", str(REPO), "archive", rev, "orchestrator"],  # noqa: S607
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
    return into


@contextmanager
def _code_from(path: Path) -> Iterator[None]:
    """Worker processes started meanwhile import ``orchestrator`` from ``path`` (cwd: an empty dir)."""
    before_cwd, before_path = Path.cwd(), os.environ.get("PYTHONPATH")
    empty = tempfile.mkdtemp(prefix="xo-hot-cwd-")
    os.environ["PYTHONPATH"] = f"{path}:{REPO}"  # bench/ stays importable for the counter
    os.chdir(empty)
    try:
        yield
    finally:
        os.chdir(before_cwd)
        if before_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before_path


def _engine_row(env: runs.Env, prefix: str, events: int, label: str, round_: int) -> dict[str, Any]:
    row = variants.run_engine(env, prefix, events, variants.Which(label, round_)).row()
    return {
        "variant": label,
        "inputs": row["inputs"],
        "window_s": row["window_s"],
        "inputs_per_s": row["inputs_per_s"],
        "worker_cpu_us_per_input": row["us_per_input"].get("worker"),
        "others_cores": row["cores"].get("others"),
        "broker_cores": row["cores"].get("broker"),
        "redis_cores": row["cores"].get("redis"),
        "counts": row["counts"],
        "peak_rss_mb": row.get("peak_rss_mb"),
    }


def _counter_row(env: runs.Env, prefix: str, events: int, batch: bool) -> dict[str, Any]:
    if not batch:
        bare = runs.run_bare(env, prefix, events)
        label = "faust agent, take_events (per-message path)"
    else:
        bare = _run_counter(env, prefix, events)
        label = "faust_batch.BatchConsumer (drained in batches)"
    cores = bare.cpu_cores
    return {
        "variant": label,
        "events_per_s": bare.events_per_s,
        "cpu_us_per_record": round(cores["bare"] / bare.events_per_s * 1e6, 2) if bare.events_per_s else None,
        "others_cores": cores.get("others"),
    }


def _run_counter(env: runs.Env, prefix: str, events: int) -> runs.BareRun:
    """bench/hot_path_counter.py over the prefix's events, measured as runs.run_bare measures the agent."""
    port = free_port()
    variables = {
        **runs.worker_env(env.servers, prefix, env.knobs),
        "BENCH_GROUP_ID": f"{prefix}-batch-counter",
        "BENCH_WEB_PORT": str(port),
        "BENCH_TOPIC": Topics(prefix).events,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.hot_path_counter"],
        env={**os.environ, **variables},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    started = time.monotonic()
    try:
        probe = runs.Probe(
            "batch counter",
            lambda: {"events": procs.metric_sum(procs.scrape(port), "bare_events_total")},
            {"bare": proc.pid, **env.servers.pids},
            lambda c: c["events"] >= events,
            lambda: proc.poll() is None,
        )
        samples = runs.watch(probe, env.out, timeout=runs.START_TIMEOUT_S + events / 1000, settle_s=0.5)
        first = next(s for s in samples if s.counts["events"] > 0)
        _, window, eps = runs.span_rate(samples, "events", first)
        end = next(s for s in samples if s.counts["events"] >= events)
        cores = runs.cpu_share(first, end)
        return runs.BareRun("batch counter", "asyncio", events, round(first.t - started, 2), round(window, 2),
                            round(eps), cores, procs.peak_rss_mb(proc.pid))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wecom_key(cid: str, value: bytes) -> str:
    """A chat line's WeCom id in canonical form, else the member id it is keyed by."""
    event = orjson.loads(value)
    wecom = event["identity"].get("wecom_external_id")
    return f"wecom_external_id:{wecom}" if event["type"] == "chat.message" and wecom else cid


def _median(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def _servers(stack: ExitStack) -> runs.Servers:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(EmbeddedKafka()).bootstrap
    redis_url = os.environ.get("REDIS_URL") or stack.enter_context(EmbeddedRedis()).url
    pids = {"broker": procs.child_matching(" broker "), "redis": procs.child_matching("redis-server")}
    return runs.Servers(bootstrap, redis_url, {k: v for k, v in pids.items() if v}, embedded=bool(pids))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.monotonic()

    def out(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    run_id = uuid.uuid4().hex[:6]
    now = datetime.now(tz=UTC)
    records = workload.backlog(args.customers, args.events, now).records
    if args.wecom_keyed:
        records = [(_wecom_key(cid, value), value) for cid, value in records]
    engine: list[dict[str, Any]] = []
    counters: list[dict[str, Any]] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="xo-hot-") as tmp:
        trees = {
            "before": _export(args.before, Path(tmp) / "before"),
            "after": _export(None, Path(tmp) / "after"),
        }
        env = runs.Env(_servers(stack), runs.Knobs(partitions=8), out)
        counted = [(str(n), v) for n, (_, v) in enumerate(records * (1 + args.counter_events // len(records)))]
        for round_ in range(args.rounds):
            order = list(trees.items())
            for label, path in order[round_ % 2 :] + order[: round_ % 2]:  # each goes first in turn
                prefix = f"hot-{run_id}-{round_}-{label}"
                runs.produce_backlog(env.servers, prefix, env.knobs, records)
                with _code_from(path):
                    row = _engine_row(env, prefix, len(records), label, round_ + 1)
                out(f"round {round_ + 1} {label}: {row}")
                engine.append({**row, "round": round_ + 1})
            for batch in (False, True) if args.counter_events else ():
                prefix = f"hot-{run_id}-{round_}-counter-{int(batch)}"
                runs.produce_backlog(env.servers, prefix, env.knobs, counted[: args.counter_events])
                with _code_from(trees["after"]):
                    row = _counter_row(env, prefix, args.counter_events, batch)
                out(f"round {round_ + 1} counter: {row}")
                counters.append({**row, "round": round_ + 1})
    summary = {
        label: {
            "worker_cpu_us_per_input": _median([r for r in engine if r["variant"] == label], "worker_cpu_us_per_input"),
            "inputs_per_s": _median([r for r in engine if r["variant"] == label], "inputs_per_s"),
            "others_cores": _median([r for r in engine if r["variant"] == label], "others_cores"),
        }
        for label in ("before", "after")
    }
    consumption = {
        label: _median([r for r in counters if r["variant"] == label], "cpu_us_per_record")
        for label in dict.fromkeys(r["variant"] for r in counters)
    }
    result = {"date": now.isoformat(timespec="seconds"), "args": {k: str(v) for k, v in vars(args).items()},
              "engine": engine, "counters": counters, "summary": summary, "consumption": consumption}  # fmt: skip
    target = args.out or REPO / "bench" / "results" / f"hot-path-{now:%Y%m%dT%H%M%SZ}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print("\nmedians over", args.rounds, "rounds:")
    for label, figures in summary.items():
        print(f"  engine {label:6}  {figures}")
    for label, figure in consumption.items():
        print(f"  {label}: {figure} µs CPU per record")
    print(f"results: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
