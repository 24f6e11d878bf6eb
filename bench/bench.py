"""The engine's performance in one run: throughput against the bare framework, latency, Redis, timers.

    .venv/bin/python -m bench.bench [--customers 20000] [--events 100000] [--seconds 30] [--quick]

Starts an embedded Kafka (Tansu) and Redis unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are
set, then, on one machine and one broker:

1. produces a backlog of ``--events`` events of ``--customers`` customers (registrations,
   orders, chat lines, receipts; ``bench/perf/workload.py``) for the journeys in
   ``bench/journeys_bench`` (a scenario journey with a wait, two event journeys, one of them
   waiting for a receipt, a segment journey);
2. times a bare faust agent that only counts those events (the framework's ceiling; also
   on uvloop and as two stages, forward + count, the engine's topology without its work);
3. times one engine worker over the same events (first processed → last), with Redis
   commands and round trips per input, Redis memory per customer, CPU and peak RSS;
4. keeps that worker and produces live events at half its measured rate for ``--seconds``:
   latency from the worker's own histogram and from produce to the action's arrival;
5. costs of single steps in-process (``bench/perf/micro.py``); 1M timers scheduled and
   pumped through the store; the engine again on uvloop; a py-spy profile of the engine.

Prints a table and writes everything as JSON (``--out``, default
``bench/results/<UTC timestamp>.json``). Nothing here changes the engine.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from redis import Redis

from bench.perf import micro, procs, profiling, runs, timers, workload
from bench.perf.redis_stats import memory
from bench.perf.report import table
from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis
from orchestrator.harness import WorkerProcess

RESULTS = runs.REPO / "bench" / "results"
TIMER_INTERVAL_S = 0.25  # the worker's XO_TIMER_INTERVAL_S default: one pump of ≤1000 timers per tick
TARGET_RATIO = 0.7
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


@dataclass(frozen=True)
class Plan:
    customers: int
    events: int
    seconds: float
    timers: int
    variants: bool  # engine on uvloop, bare on uvloop, bare forward + count
    profile_s: float  # 0: no profile
    micro: bool
    seed: int
    knobs: runs.Knobs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, help="customers in the backlog (default 20000; quick 5000)")
    parser.add_argument("--events", type=int, help="events in the backlog (default 100000; quick 20000)")
    parser.add_argument("--seconds", type=float, help="length of the latency run (default 30; quick 10)")
    parser.add_argument("--timers", type=int, help="timers to schedule and fire (default 1000000; quick 100000)")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/<UTC timestamp>.json)")
    parser.add_argument("--quick", action="store_true", help="a ~1-minute smoke run: small, no variants or profile")
    parser.add_argument("--no-variants", action="store_true", help="skip the uvloop and two-stage runs")
    parser.add_argument("--profile", type=float, help="seconds of py-spy profile of the engine (default 20; 0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--fetch-wait-ms", type=int, default=10, help="XO_FETCH_WAIT_MS of the workers")
    return parser


def plan_of(args: argparse.Namespace) -> Plan:
    quick = bool(args.quick)
    profile_default = 0.0 if quick else 20.0
    return Plan(
        customers=args.customers or (5_000 if quick else 20_000),
        events=args.events or (20_000 if quick else 100_000),
        seconds=args.seconds or (10.0 if quick else 30.0),
        timers=args.timers or (100_000 if quick else 1_000_000),
        variants=not (quick or args.no_variants),
        profile_s=args.profile if args.profile is not None else profile_default,
        micro=True,
        seed=args.seed,
        knobs=runs.Knobs(partitions=args.partitions, fetch_wait_ms=args.fetch_wait_ms),
    )


def _git() -> dict[str, Any]:
    """The engine's revision: git's, or a REVISION file's for a tree exported without .git."""
    revision = runs.REPO / "REVISION"
    if revision.exists():
        return {"commit": revision.read_text().strip(), "dirty": False}

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=runs.REPO, capture_output=True, text=True, check=False)  # noqa: S603, S607
        return done.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "orchestrator"))}


def _machine() -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def _servers(stack: ExitStack) -> runs.Servers:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    redis_url = os.environ.get("REDIS_URL")
    if not bootstrap:
        bootstrap = stack.enter_context(EmbeddedKafka()).bootstrap
    if not redis_url:
        redis_url = stack.enter_context(EmbeddedRedis()).url
    pids = {"broker": procs.child_matching(" broker "), "redis": procs.child_matching("redis-server")}
    return runs.Servers(bootstrap, redis_url, {k: v for k, v in pids.items() if v}, embedded=bool(pids))


class Bench:
    def __init__(self, plan: Plan, servers: runs.Servers) -> None:
        self.plan = plan
        self.servers = servers
        self.started = time.monotonic()
        self.run_id = uuid.uuid4().hex[:6]
        self.env = runs.Env(servers, plan.knobs, self.out)
        self.result: dict[str, Any] = {}

    def out(self, line: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {line}", flush=True)

    def prefix(self, name: str) -> str:
        return f"bench-{self.run_id}-{name}"

    def backlog(self, name: str, records: Sequence[tuple[str, bytes]]) -> str:
        prefix = self.prefix(name)
        seconds = runs.produce_backlog(self.servers, prefix, self.plan.knobs, records)
        self.out(f"produced {len(records):,} events to {prefix}.events in {seconds:.1f}s")
        return prefix

    def run(self) -> dict[str, Any]:
        plan = self.plan
        load = procs.loadavg()
        self.out(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; generating the backlog")
        backlog = workload.backlog(plan.customers, plan.events, datetime.now(tz=UTC), plan.seed)
        self.result["workload"] = {
            "customers": plan.customers,
            "events": len(backlog.records),
            "types": dict(backlog.types.most_common()),
            "due_orders": backlog.due_orders,
            "journeys": sorted(p.stem for p in runs.JOURNEYS.glob("*.yaml") if p.stem != "catalog"),
        }
        main = self.backlog("main", backlog.records)
        self.bare(main, len(backlog.records))
        self.engine(main, len(backlog.records))
        if plan.micro:
            self.out("in-process costs of single steps")
            customers = [workload.cid_of(i) for i in range(plan.customers)]
            self.result["micro_us"] = micro.run_micro(self.servers.redis_url, main, customers)
        self.timers()
        if plan.variants and not HAVE_UVLOOP:
            self.out("uvloop variants skipped: uvloop is not installed (pip install uvloop)")
        if plan.variants and HAVE_UVLOOP:
            self.out("engine on uvloop: a fresh copy of the backlog")
            prefix = self.backlog("uvloop", backlog.records)
            variant, worker, _ = runs.run_engine(
                self.env, prefix, len(backlog.records), loop="uvloop", label="engine (uvloop)"
            )
            worker.stop()
            self.out(f"  → {variant.events_per_s:,.0f} events/s")
            self.result["engine"].append(variant.row())
        rate = self.result["engine"][0]["events_per_s"]
        if plan.variants:
            self.latency_variant(backlog.records, rate, 0.01)
        self.trace(backlog.records, rate)
        self.profile(backlog.records, rate)
        self.result["seconds"] = round(time.monotonic() - self.started, 1)
        return self.result

    def bare(self, prefix: str, events: int) -> None:
        self.out("bare faust agent: count the events")
        bare = [runs.run_bare(self.env, prefix, events)]
        self.out(f"  → {bare[-1].events_per_s:,.0f} events/s")
        if self.plan.variants:
            for loop, forward in (("uvloop", False), ("asyncio", True)):
                if loop == "uvloop" and not HAVE_UVLOOP:
                    continue
                bare.append(runs.run_bare(self.env, prefix, events, loop=loop, forward=forward))
                self.out(f"  {bare[-1].label} → {bare[-1].events_per_s:,.0f} events/s")
        self.result["bare"] = [b.row() for b in bare]

    def engine(self, prefix: str, events: int) -> None:
        """The measured engine run, then the latency run on the same worker."""
        self.out("engine: one worker over the same events")
        client = Redis.from_url(self.servers.redis_url)
        engine, worker, before = runs.run_engine(self.env, prefix, events)
        try:
            self.out(f"  → {engine.events_per_s:,.0f} events/s, {engine.actions_per_s:,.0f} actions/s")
            customers = [workload.cid_of(i) for i in range(self.plan.customers)]
            self.result["redis_memory"] = memory(client, prefix, customers, before)
            live = runs.LatencyPlan(engine.events_per_s / 2, self.plan.seconds, self.plan.customers)
            self.out(f"latency: live events at {live.rate:,.0f}/s (half the engine's rate) for {live.seconds:.0f}s")
            latency = runs.run_latency(self.env, prefix, worker, live)
            assert worker.proc is not None  # noqa: S101 - started by run_engine
            engine.peak_rss_mb = procs.peak_rss_mb(worker.proc.pid)
        finally:
            worker.stop()
            client.close()
        self.result["engine"] = [engine.row()]
        self.result["latency"] = latency.row()

    def timers(self) -> None:
        self.out(f"timers: schedule {self.plan.timers:,} and fire them")
        result = timers.run_timers(self.servers, self.prefix("timers"), self.plan.timers, 20.0, self.out)
        result["worker_pump_ceiling_per_s"] = round(result["pump_batch"] / TIMER_INTERVAL_S)
        self.result["timers"] = result

    def trace(self, records: Sequence[tuple[str, bytes]], rate: float) -> None:
        """Where a batch's time goes: a traced worker over a slice of the backlog, then live at half rate."""
        plan = self.plan
        seconds = 5.0 if plan.profile_s == 0 else 10.0
        count = min(len(records), int(rate * (seconds + 10)))  # outlasts the traced window
        prefix = self.backlog("trace", records[:count])
        self.out(f"trace: a traced worker (bench/perf/traced_worker.py) over {count:,} events")
        trace_file = Path(tempfile.mkstemp(prefix="xo-trace-", suffix=".json")[1])
        env = {**runs.worker_env(self.servers, prefix, plan.knobs), "BENCH_TRACE_FILE": str(trace_file)}
        worker = runs.TracedWorker(env).start()
        try:
            self._wait_consuming(worker)
            first = _trace(trace_file), runs.engine_counts(worker)
            time.sleep(seconds)
            backlog = _trace(trace_file), runs.engine_counts(worker)
            probe = runs.Probe(
                "trace", lambda: runs.engine_counts(worker), {}, lambda c: c["events"] >= count, worker.alive
            )
            runs.watch(probe, self.out, runs.START_TIMEOUT_S + count / 100)
            live = runs.LatencyPlan(rate / 2, min(plan.seconds, 10.0), plan.customers)
            self.out(f"trace: live events at {live.rate:,.0f}/s for {live.seconds:.0f}s")
            start_live = _trace(trace_file), runs.engine_counts(worker)
            runs.run_latency(self.env, prefix, worker, live)
            end_live = _trace(trace_file), runs.engine_counts(worker)
        finally:
            worker.stop()
        self.result["trace"] = {"backlog": _phases(first, backlog), "half_rate": _phases(start_live, end_live)}

    def latency_variant(self, records: Sequence[tuple[str, bytes]], rate: float, within_s: float) -> None:
        """The latency run again (same rate, half as long) on a worker with a shorter batch window."""
        plan = self.plan
        knobs = replace(plan.knobs, batch_within_s=within_s)
        count = min(len(records), int(rate * 10))
        prefix = self.backlog(f"within{int(within_s * 1000)}ms", records[:count])
        self.out(f"latency with XO_BATCH_WITHIN_S={within_s}: {count:,} events first, then live events")
        worker = runs.start_engine(self.servers, prefix, knobs)
        try:
            probe = runs.Probe(
                "within", lambda: runs.engine_counts(worker), {}, lambda c: c["events"] >= count, worker.alive
            )
            samples = runs.watch(probe, self.out, runs.START_TIMEOUT_S + count / 100)
            first = next(s for s in samples if s.counts["events"] > 0)
            _, window, events_per_s = runs.span_rate(samples, "events", first)
            live = runs.LatencyPlan(rate / 2, plan.seconds / 2, plan.customers)
            latency = runs.run_latency(replace(self.env, knobs=knobs), prefix, worker, live)
        finally:
            worker.stop()
        self.result["latency_variants"] = [
            {
                "batch_within_s": within_s,
                "backlog_events": count,
                "backlog_window_s": round(window, 2),
                "backlog_events_per_s": round(events_per_s),
                **latency.row(),
            }
        ]

    def _wait_consuming(self, worker: WorkerProcess) -> None:
        probe = runs.Probe("start", lambda: runs.engine_counts(worker), {}, lambda c: c["events"] >= 500, worker.alive)
        runs.watch(probe, self.out, runs.START_TIMEOUT_S, settle_s=0)

    def profile(self, records: Sequence[tuple[str, bytes]], rate: float) -> None:
        """py-spy on an unmodified worker working through a slice of the backlog (not a measured run)."""
        plan = self.plan
        if plan.profile_s <= 0:
            return
        if profiling.py_spy() is None:
            self.out("profile skipped: py-spy is not installed (pip install py-spy)")
            self.result["profile"] = {"skipped": "py-spy not installed"}
            return
        count = min(len(records), int(rate * (plan.profile_s + 10)))
        prefix = self.backlog("profile", records[:count])
        self.out(f"profile: py-spy on an engine worker for {plan.profile_s:.0f}s")
        worker = runs.start_engine(self.servers, prefix, plan.knobs)
        try:
            self._wait_consuming(worker)
            assert worker.proc is not None  # noqa: S101 - started above
            stem = f"profile-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}"
            recording = profiling.record(worker.proc.pid, plan.profile_s, RESULTS, stem)
        finally:
            worker.stop()
        self.result["profile"] = self.analysis(recording)

    def analysis(self, recording: profiling.Recording) -> dict[str, Any]:
        analysis = profiling.analyse(recording.folded)
        for line in profiling.lines(analysis, 12):
            self.out(line)
        return {
            "folded": str(recording.folded.relative_to(runs.REPO)),
            "svg": str(recording.svg.relative_to(runs.REPO)) if recording.svg else None,
            **analysis,
        }


def _trace(path: Path) -> dict[str, Any]:
    time.sleep(1.1)  # the traced worker writes its totals every second
    data: dict[str, Any] = orjson.loads(path.read_bytes() or b"{}")
    return data


Point = tuple[dict[str, Any], dict[str, float]]


def _phases(start: Point, end: Point) -> dict[str, Any]:
    """Per phase between two trace points: calls, ms per call, records per call, µs per input."""
    (trace_a, counts_a), (trace_b, counts_b) = start, end
    inputs = counts_b["inputs"] - counts_a["inputs"]
    phases: dict[str, Any] = {}
    for name, b in trace_b.get("phases", {}).items():
        a = trace_a.get("phases", {}).get(name, {"calls": 0, "seconds": 0.0, "records": 0})
        calls = b["calls"] - a["calls"]
        if calls <= 0:
            continue
        seconds = b["seconds"] - a["seconds"]
        phases[name] = {
            "calls": calls,
            "ms_per_call": round(1000 * seconds / calls, 2),
            "records_per_call": round((b["records"] - a["records"]) / calls, 1),
            "us_per_input": round(1e6 * seconds / inputs, 1) if inputs else None,
        }
    round_trips = sum(phases.get(k, {}).get("calls", 0) for k in ("redis_pipeline", "redis_single_command"))
    return {
        "inputs": inputs,
        "phases": phases,
        "redis_round_trips_per_input": round(round_trips / inputs, 4) if inputs else None,
        "loop_lag_ms": trace_b.get("loop_lag_ms"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = plan_of(args)
    now = datetime.now(tz=UTC)
    load = procs.loadavg()
    header = {
        "date": now.isoformat(timespec="seconds"),
        "machine": _machine(),
        "load_at_start": load,
        "git": _git(),
        "plan": {**plan.__dict__, "knobs": plan.knobs.__dict__},
        "settings": {"XO_BATCH_SIZE": plan.knobs.batch_size, "XO_BATCH_WITHIN_S": plan.knobs.batch_within_s},
    }
    with ExitStack() as stack:
        servers = _servers(stack)
        header["servers"] = {"embedded": servers.embedded, "bootstrap": servers.bootstrap}
        try:
            result = {**header, **Bench(plan, servers).run()}
        except runs.BenchError as exc:
            print(f"bench FAILED: {exc}", file=sys.stderr)
            return 1
    result["target_ratio"] = TARGET_RATIO
    out = args.out or RESULTS / f"{now:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    print()
    print(table(result))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
