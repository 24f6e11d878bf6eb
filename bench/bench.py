"""The engine's throughput measured the honest way: variants interleaved in rounds, medians, CPU per input.

    .venv/bin/python -m bench.bench [--quick] [--rounds 3] [--out FILE]

Starts an embedded Kafka (Tansu) and Redis unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are
set. Builds the workloads first (not measured): the fresh-customer backlog
(``bench/perf/workload.py``) and mature customers whose stored states are 7-16 KB
(``bench/perf/mature.py``: a history processed by a worker, copied into each run). Then,
``--rounds`` times, in an order rotated each round, one run of every variant over a
pre-produced backlog (``bench/perf/variants.py``):

- ``aiokafka``, ``aiokafka_decode``: aiokafka alone reading the events, and decoding them;
- ``faust_counter``: a bare faust agent that only counts them (the framework's per-message cost);
- ``engine_fresh_1``, ``engine_fresh_2``: the engine, one and two worker processes, fresh mix;
- ``engine_mature_1``: the engine, one worker, the mature mix.

Each run's figures come from its window (first processed → last): inputs per second and the
CPU seconds (utime + stime from /proc) of the measured process(es), the broker and Redis,
per input, and the CPU of the machine's other processes. The table shows each variant's
median over the rounds (min–max beside it), the engine / counter and two / one ratios
paired within a round, then latency at half the engine's capacity, Redis bytes per fresh
customer, a scheduled journey over ``--scheduled-customers`` fired, and the issue's targets
with met / not met. Everything goes to ``bench/results/<UTC time>.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from redis import Redis

from bench.perf import mature, procs, profiling, runs, scheduled, variants, workload
from bench.perf.figures import figures_of, medians
from bench.perf.redis_stats import drop_prefix, per_input, prefix_memory, snapshot
from bench.perf.report import table
from bench.perf.stats import rotation
from bench.perf.targets import verdicts
from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis

RESULTS = runs.REPO / "bench" / "results"
VARIANTS = ("aiokafka", "aiokafka_decode", "faust_counter", "engine_fresh_1", "engine_fresh_2", "engine_mature_1")


@dataclass(frozen=True)
class Plan:
    rounds: int
    customers: int
    events: int
    ref_factor: int  # the reference rows read the fresh backlog this many times over (longer windows)
    mature_customers: int
    mature_events: int
    mature_chunk: int  # history events per mature customer per preload chunk
    mature_max_chunks: int
    seconds: float  # latency run
    scheduled_customers: int
    audience: int
    profile_s: float
    seed: int
    variants: tuple[str, ...]
    latency: bool
    knobs: runs.Knobs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: one round, small workloads")
    parser.add_argument("--rounds", type=int, help="rounds of every variant (default 3; quick 1)")
    parser.add_argument("--customers", type=int, help="fresh customers (default 10000; quick 2000)")
    parser.add_argument("--events", type=int, help="fresh-mix events per run (default 40000; quick 8000)")
    parser.add_argument("--mature-customers", type=int, help="mature customers (default 400; quick 100)")
    parser.add_argument("--mature-events", type=int, help="mature-mix events per run (default 20000; quick 4000)")
    parser.add_argument("--seconds", type=float, help="latency run at half capacity (default 30; quick 10)")
    parser.add_argument("--scheduled-customers", type=int, help="scheduled journey's customers (1M; quick 100k)")
    parser.add_argument("--audience", type=int, help="its audience (default a tenth of the customers)")
    parser.add_argument("--variants", help=f"comma-separated subset of {','.join(VARIANTS)}")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency run")
    parser.add_argument("--profile", type=float, default=0.0, help="seconds of py-spy profile of a worker (0: none)")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/<UTC timestamp>.json)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--fetch-wait-ms", type=int, default=10, help="XO_FETCH_WAIT_MS of the workers")
    return parser


def plan_of(args: argparse.Namespace) -> Plan:
    quick = bool(args.quick)
    chosen = tuple(args.variants.split(",")) if args.variants else VARIANTS
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"bench: unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    scheduled_customers = (
        args.scheduled_customers if args.scheduled_customers is not None else (100_000 if quick else 1_000_000)
    )
    return Plan(
        rounds=args.rounds or (1 if quick else 3),
        customers=args.customers or (2_000 if quick else 10_000),
        events=args.events or (8_000 if quick else 40_000),
        ref_factor=2 if quick else 3,
        mature_customers=args.mature_customers or (100 if quick else 400),
        mature_events=args.mature_events or (4_000 if quick else 20_000),
        mature_chunk=30,
        mature_max_chunks=12,
        seconds=args.seconds or (10.0 if quick else 30.0),
        scheduled_customers=scheduled_customers,
        audience=args.audience or scheduled_customers // 10,
        profile_s=args.profile,
        seed=args.seed,
        variants=chosen,
        latency=not args.no_latency,
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


def _quiet_seconds(seconds: float = 5.0) -> float:
    """Cores busy on the whole machine over a few seconds before the run (nothing of ours running)."""
    before, started = procs.busy_cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return round((procs.busy_cpu_seconds() - before) / (time.monotonic() - started), 2)


class Bench:
    def __init__(self, plan: Plan, servers: runs.Servers) -> None:
        self.plan = plan
        self.servers = servers
        self.started = time.monotonic()
        self.run_id = uuid.uuid4().hex[:6]
        self.env = runs.Env(servers, plan.knobs, self.out)
        self.result: dict[str, Any] = {}
        self.fresh: list[tuple[str, bytes]] = []
        self.mature: list[tuple[str, bytes]] = []
        self.template = self.prefix("mature-template")
        self.ref_topic = ""

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
        self.prepare()
        rows: list[dict[str, Any]] = []
        for round_ in range(plan.rounds):
            for key in rotation(plan.variants, round_):
                self.out(f"round {round_ + 1}/{plan.rounds}: {key}")
                row = self.variant(key, round_)
                rows.append(row)
                self.out(
                    f"  → {row['inputs_per_s']:,.0f} inputs/s · CPU µs/input {row['us_per_input']}"
                    f" · others {row['cores'].get('others')} cores"
                )
        self.result["runs"] = rows
        self.result["medians"] = medians(rows)
        if plan.latency and "engine_fresh_1" in plan.variants:
            self.latency(self.result["medians"]["engine_fresh_1"]["events_per_s"]["median"])
        self.scheduled()
        if plan.profile_s > 0:
            self.profile()
        self.result["figures"] = figures_of(self.result)
        self.result["targets"] = verdicts(self.result["figures"])
        self.result["seconds"] = round(time.monotonic() - self.started, 1)
        return self.result

    def prepare(self) -> None:
        plan = self.plan
        backlog = workload.backlog(plan.customers, plan.events, datetime.now(tz=UTC), plan.seed)
        self.fresh = backlog.records
        self.result["workload"] = {
            "fresh": {
                "customers": plan.customers,
                "events": len(backlog.records),
                "types": dict(backlog.types.most_common()),
                "due_orders": backlog.due_orders,
            },
            "journeys": sorted(p.stem for p in runs.JOURNEYS.glob("*.yaml") if p.stem not in ("catalog", "events")),
        }
        if {"aiokafka", "aiokafka_decode", "faust_counter"} & set(plan.variants):
            self.ref_topic = variants.topic_of(self.backlog("ref", list(self.fresh) * plan.ref_factor))
        if "engine_mature_1" in plan.variants:
            self.out(f"mature preload: {plan.mature_customers:,} customers' history (not measured)")
            preload = mature.Preload(plan.mature_customers, plan.mature_chunk, plan.mature_max_chunks, plan.seed)
            built = mature.build(self.env, self.template, preload)
            self.mature = mature.measured(plan.mature_customers, plan.mature_events, datetime.now(tz=UTC), plan.seed)
            self.result["workload"]["mature"] = {**built, "events": len(self.mature)}

    def variant(self, key: str, round_: int) -> dict[str, Any]:
        ref_events = len(self.fresh) * self.plan.ref_factor
        if key in ("aiokafka", "aiokafka_decode"):
            return variants.run_reader(self.env, self.ref_topic, ref_events, key == "aiokafka_decode", round_).row()
        if key == "faust_counter":
            return variants.run_faust_counter(self.env, self.ref_topic, ref_events, round_).row()
        records = self.mature if key == "engine_mature_1" else self.fresh
        prefix = self.backlog(f"{key}-r{round_}", records)
        if key == "engine_mature_1":
            copied = mature.clone(self.servers.redis_url, self.template, prefix)
            self.out(f"  copied the {copied:,} keys of the mature customers")
        return self.engine(key, prefix, len(records), round_)

    def engine(self, key: str, prefix: str, events: int, round_: int) -> dict[str, Any]:
        client = Redis.from_url(self.servers.redis_url)
        try:
            before = snapshot(client)
            which = variants.Which(key, round_)
            run = variants.run_engine(self.env, prefix, events, which, 2 if key.endswith("_2") else 1)
            after = snapshot(client)
            row = run.row()
            row["redis_commands"] = per_input(before, after, run.counts.get("inputs", 0.0))
            if key == "engine_fresh_1" and "redis_memory" not in self.result:
                self.result["redis_memory"] = prefix_memory(client, prefix, self.plan.customers)
                self.out(f"  Redis: {self.result['redis_memory']['bytes_per_customer']:,} B per fresh customer")
            dropped = drop_prefix(client, prefix)  # the next runs start from the same Redis size
            self.out(f"  dropped the run's {dropped:,} Redis keys")
            return row
        finally:
            client.close()

    def latency(self, capacity: float | None) -> None:
        """A fresh worker works through a slice of the fresh backlog, then takes live events at half ``capacity``."""
        if not capacity:
            return
        plan = self.plan
        rate = capacity / 2
        count = min(len(self.fresh), int(capacity * 5))
        prefix = self.backlog("latency", self.fresh[:count])
        self.out(f"latency: {count:,} events first, then live events at {rate:,.0f}/s for {plan.seconds:.0f}s")
        worker = runs.start_engine(self.servers, prefix, plan.knobs)
        try:
            probe = runs.Probe(
                "latency backlog", lambda: runs.engine_counts(worker), {}, lambda c: c["events"] >= count, worker.alive
            )
            runs.watch(probe, self.out, runs.START_TIMEOUT_S + count / 100)
            live = runs.LatencyPlan(rate, plan.seconds, plan.customers)
            self.result["latency"] = runs.run_latency(self.env, prefix, worker, live).row()
        finally:
            worker.stop()

    def scheduled(self) -> None:
        plan = self.plan
        if plan.scheduled_customers <= 0:
            return
        self.out(f"scheduled journey: {plan.scheduled_customers:,} customers, audience {plan.audience:,}")
        self.result["scheduled"] = scheduled.run(
            self.servers, self.prefix("scheduled"), plan.scheduled_customers, plan.audience, self.out
        )

    def profile(self) -> None:
        """py-spy on an unmodified worker working through the fresh backlog (not a measured run)."""
        if profiling.py_spy() is None:
            self.result["profile"] = {"skipped": "py-spy not installed"}
            return
        prefix = self.backlog("profile", self.fresh)
        worker = runs.start_engine(self.servers, prefix, self.plan.knobs)
        try:
            counts = lambda: runs.engine_counts(worker)  # noqa: E731 - a one-line probe
            probe = runs.Probe("start", counts, {}, lambda c: c["events"] >= 500, worker.alive)
            runs.watch(probe, self.out, runs.START_TIMEOUT_S, settle_s=0)
            assert worker.proc is not None  # noqa: S101 - started above
            stem = f"profile-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}"
            recording = profiling.record(worker.proc.pid, self.plan.profile_s, RESULTS, stem)
        finally:
            worker.stop()
        self.result["profile"] = {
            "folded": str(recording.folded.relative_to(runs.REPO)),
            "svg": str(recording.svg.relative_to(runs.REPO)) if recording.svg else None,
            **profiling.analyse(recording.folded),
        }


def main(argv: Sequence[str] | None = None, say: Callable[[str], None] = print) -> int:
    args = _parser().parse_args(argv)
    plan = plan_of(args)
    now = datetime.now(tz=UTC)
    header = {
        "date": now.isoformat(timespec="seconds"),
        "machine": _machine(),
        "load_at_start": procs.loadavg(),
        "cores_busy_before": _quiet_seconds(),
        "git": _git(),
        "plan": {**plan.__dict__, "knobs": plan.knobs.__dict__},
    }
    with ExitStack() as stack:
        servers = _servers(stack)
        header["servers"] = {"embedded": servers.embedded, "bootstrap": servers.bootstrap}
        try:
            result = {**header, **Bench(plan, servers).run()}
        except runs.BenchError as exc:
            print(f"bench FAILED: {exc}", file=sys.stderr)
            return 1
    result["load_at_end"] = procs.loadavg()
    out = args.out or RESULTS / f"{now:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    say("")
    say(table(result))
    say(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
