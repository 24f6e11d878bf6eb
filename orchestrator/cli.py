"""Command line: ``orchestrator COMMAND``; ``orchestrator --help`` lists the commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.errors import ConfigError
from orchestrator.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"orchestrator: invalid environment: {exc}", file=sys.stderr)
        return 2
    try:
        result: int = args.run(args, settings)
    except ConfigError as exc:
        if getattr(args, "output", "text") == "json":
            from orchestrator.tools import problems_json

            print(problems_json(exc.problems))
            return 1
        print("orchestrator: invalid configuration, refusing to start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2 if args.run is _worker else 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description="xo-journeys journey orchestration engine")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    sub.add_parser("worker", help="run a worker (needs KAFKA_BOOTSTRAP_SERVERS and REDIS_URL)").set_defaults(
        run=_worker
    )
    validate = sub.add_parser("validate", help="check journeys, the catalog, the calendar and templates")
    validate.add_argument("paths", nargs="*", type=Path, help="journey folders or files (default: XO_JOURNEYS_DIR)")
    validate.add_argument("--output", choices=["text", "json"], default="text")
    validate.set_defaults(run=_validate)
    simulate = sub.add_parser("simulate", help="dry-run recorded events through the journeys, offline")
    simulate.add_argument("--journeys", type=Path, help="journeys folder (default: XO_JOURNEYS_DIR)")
    simulate.add_argument("--templates", type=Path, help="templates folder (default: XO_TEMPLATES_DIR)")
    simulate.add_argument("--events", type=Path, required=True, help="JSON lines of events")
    simulate.add_argument("--until", help="fire timers due up to this ISO time (default: the last event's time)")
    simulate.add_argument("--out", type=Path, help="write records here (default: stdout)")
    simulate.add_argument("--dump-profiles", type=Path, help="write each customer's final state here")
    simulate.set_defaults(run=_simulate)
    graph = sub.add_parser("graph", help="print a journey's steps as a Mermaid diagram")
    graph.add_argument("journey", help="journey id (newest version), id@version, or a YAML file")
    graph.set_defaults(run=_graph)
    plan = sub.add_parser("plan", help="where the instances of one journey version go in another")
    plan.add_argument("old", help="id@version or a YAML file")
    plan.add_argument("new", help="id@version or a YAML file")
    source = plan.add_mutually_exclusive_group(required=True)
    source.add_argument("--dump", type=Path, help="states as written by simulate --dump-profiles")
    source.add_argument("--live", action="store_true", help="read the states from REDIS_URL")
    plan.set_defaults(run=_plan)
    schema = sub.add_parser("schema", help="write the JSON Schema of journey files")
    schema.add_argument("--out", type=Path, default=Path("schema/journey.schema.json"))
    schema.set_defaults(run=_schema)
    demo = sub.add_parser("demo", help="embedded broker + Redis + worker, feed example events, print actions")
    demo.add_argument("--events", type=Path, default=Path("examples/events.jsonl"))
    demo.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the actions")
    demo.set_defaults(run=_demo)
    quarantine = sub.add_parser("quarantine", help="customers whose stored state cannot be loaded (REDIS_URL)")
    quarantine.add_argument("action", choices=["list", "show", "repair", "drop"])
    quarantine.add_argument("customer", nargs="?", help="customer id (show, repair, drop)")
    quarantine.add_argument("--dry-run", action="store_true", help="repair: say what would be dropped, write nothing")
    quarantine.add_argument("--from", dest="source", type=Path, help="repair: write this corrected state JSON")
    quarantine.set_defaults(run=_quarantine)
    send = sub.add_parser("send", help="produce a JSONL file of events to the events topic")
    send.add_argument("file", type=Path)
    send.set_defaults(run=_send)
    _customer_data_commands(sub)
    return parser


def _customer_data_commands(sub: Any) -> None:
    """backfill, replay, export, forget, retain: commands over stored customers."""
    backfill = sub.add_parser("backfill", help="fold past events into profiles without entering journeys or sending")
    backfill.add_argument("files", nargs="*", type=Path, help="JSON lines of events, any order")
    backfill.add_argument("--topic", help="also read this topic from its beginning (e.g. xo.events)")
    backfill.add_argument("--since", help="with --topic: only events that happened at or after this ISO time")
    backfill.add_argument("--until", help="fire detector timers due up to this ISO time (default: now)")
    backfill.add_argument("--dry-run", action="store_true", help="fold and report; write nothing to Redis")
    backfill.set_defaults(run=_backfill)
    replay = sub.add_parser("replay", help="recompute detector figures of stored customers after a rule change")
    replay.add_argument("--apply", action="store_true", help="write the changes (default: show the diff only)")
    replay.set_defaults(run=_replay)
    export = sub.add_parser("export", help="everything held about one person, as JSON (right of access)")
    export.add_argument("who", help="customer id, or an identifier as <type>:<value>")
    export.add_argument("--out", type=Path, help="write here (default: stdout)")
    export.add_argument("--no-dlq", action="store_true", help="do not scan the dead-letter topic")
    export.set_defaults(run=_export)
    forget = sub.add_parser("forget", help="erase one person everywhere the engine keeps data (right to erasure)")
    forget.add_argument("who", help="customer id, or an identifier as <type>:<value>")
    forget.add_argument("--keep-days", type=int, default=30, help="days the tombstone fences late events")
    forget.add_argument("--no-dlq", action="store_true", help="do not scan the dead-letter topic")
    forget.set_defaults(run=_forget)
    retain = sub.add_parser("retain", help="reduce customers inactive for long to their minimal state (paced)")
    retain.add_argument("--inactive-days", type=int, required=True, help="days without any event")
    retain.add_argument("--rate", type=float, default=500.0, help="customers looked at per second")
    retain.add_argument("--dry-run", action="store_true", help="count and measure; change nothing")
    retain.add_argument("--resume", action="store_true", help="continue an interrupted sweep where it stopped")
    retain.set_defaults(run=_retain)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import faust

    from orchestrator.bootstrap import build, redis_store
    from orchestrator.faust_app import create_app

    wired = build(settings)
    try:
        store = redis_store(settings)
    except ValueError as exc:
        print(f"orchestrator worker: {exc}", file=sys.stderr)
        return 2
    (settings.xo_data_dir / settings.xo_group_id).mkdir(parents=True, exist_ok=True)
    app = create_app(wired, store)
    faust.Worker(app, loglevel=settings.xo_log_level).execute_from_commandline()
    return 0


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import validate_paths

    return validate_paths(args.paths or [settings.xo_journeys_dir], settings.xo_templates_dir, args.output)


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import SimulateRequest, run_simulate

    request = SimulateRequest(
        journeys=args.journeys or settings.xo_journeys_dir,
        templates=args.templates or settings.xo_templates_dir,
        events=args.events,
        until=args.until,
        out=args.out,
        dump_profiles=args.dump_profiles,
    )
    return run_simulate(request)


def _graph(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import print_graph

    return print_graph(args.journey, settings)


def _plan(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import print_plan

    return print_plan(args.old, args.new, settings, args.dump)


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import write_schema

    return write_schema(args.out)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.demo import run_demo

    return run_demo(settings, args.events, args.timeout)


def _backfill(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.data_tools import BackfillRequest, run_backfill

    if not args.files and not args.topic:
        print("orchestrator backfill: give event files, --topic, or both", file=sys.stderr)
        return 2
    request = BackfillRequest(args.files, args.until, args.dry_run, args.topic, args.since)
    return run_backfill(request, settings)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.data_tools import run_replay

    return run_replay(args.apply, settings)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.data_tools import PersonRequest, run_export

    return run_export(PersonRequest(args.who, out=args.out, scan_dlq=not args.no_dlq), settings)


def _forget(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.data_tools import PersonRequest, run_forget

    if not 1 <= args.keep_days <= 3650:
        print("orchestrator forget: --keep-days must be between 1 and 3650", file=sys.stderr)
        return 2
    return run_forget(PersonRequest(args.who, keep_days=args.keep_days, scan_dlq=not args.no_dlq), settings)


def _retain(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.data_tools import RetainRequest, run_retain

    if args.inactive_days < 1 or args.rate <= 0:
        print("orchestrator retain: --inactive-days must be at least 1 and --rate above 0", file=sys.stderr)
        return 2
    return run_retain(RetainRequest(args.inactive_days, args.rate, args.dry_run, args.resume), settings)


def _send(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.demo import send_file

    if not settings.kafka_bootstrap_servers:
        print("orchestrator send: set KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    count = send_file(settings, args.file)
    print(f"sent {count} record(s) to {settings.xo_topic_prefix}.events")
    return 0


def _quarantine(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from orchestrator.quarantine import QuarantineRequest, run_quarantine

    if not settings.redis_url:
        print("orchestrator quarantine: set REDIS_URL", file=sys.stderr)
        return 2
    request = QuarantineRequest(args.action, args.customer, args.dry_run, args.source)
    return run_quarantine(request, redis.Redis.from_url(settings.redis_url), settings.xo_topic_prefix)
