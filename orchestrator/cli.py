"""Command line: ``orchestrator COMMAND``; ``orchestrator --help`` lists the commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
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
    validate.add_argument("--intents", type=Path, help="also score the chat intents on a labelled corpus (JSONL)")
    validate.set_defaults(run=_validate)
    simulate = sub.add_parser("simulate", help="dry-run recorded events through the journeys, offline")
    simulate.add_argument("--journeys", type=Path, help="journeys folder (default: XO_JOURNEYS_DIR)")
    simulate.add_argument("--templates", type=Path, help="templates folder (default: XO_TEMPLATES_DIR)")
    simulate.add_argument("--events", type=Path, required=True, help="JSON lines of events")
    simulate.add_argument("--until", help="fire timers due up to this ISO time (default: the last event's time)")
    simulate.add_argument("--out", type=Path, help="write records here (default: stdout)")
    simulate.add_argument("--dump-profiles", type=Path, help="write each customer's final state here")
    _analytics_flags(simulate)
    simulate.set_defaults(run=_simulate)
    _fit_command(sub)
    graph = sub.add_parser("graph", help="a journey's steps as a Mermaid or Graphviz diagram, or an SVG image")
    graph.add_argument("journey", help="journey id (newest version), id@version, or a YAML file")
    graph.add_argument("--format", choices=["mermaid", "dot", "svg"], default="mermaid")
    graph.add_argument("--out", type=Path, help="write here (default: stdout)")
    graph.set_defaults(run=_graph)
    plan = sub.add_parser("plan", help="where the instances of one journey version go in another")
    plan.add_argument("old", help="id@version or a YAML file")
    plan.add_argument("new", help="id@version or a YAML file")
    source = plan.add_mutually_exclusive_group(required=True)
    source.add_argument("--dump", type=Path, help="states as written by simulate --dump-profiles")
    source.add_argument("--live", action="store_true", help="read the states from REDIS_URL")
    plan.set_defaults(run=_plan)
    _contract_commands(sub)
    demo = sub.add_parser("demo", help="embedded broker + Redis + worker, feed example events, print actions")
    demo.add_argument("--events", type=Path, default=Path("examples/events.jsonl"))
    demo.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the actions")
    demo.set_defaults(run=_demo)
    send = sub.add_parser("send", help="produce a JSONL file of events to the events topic")
    send.add_argument("file", type=Path)
    send.set_defaults(run=_send)
    _customer_data_commands(sub)
    _operations_commands(sub)
    _analytics_commands(sub)
    return parser


def _operations_commands(sub: Any) -> None:
    """quarantine, probe, timers-reindex, timers-rebuild, identity: running and repairing workers."""
    quarantine = sub.add_parser("quarantine", help="customers whose stored state cannot be loaded (REDIS_URL)")
    quarantine.add_argument("action", choices=["list", "show", "repair", "drop"])
    quarantine.add_argument("customer", nargs="?", help="customer id (show, repair, drop)")
    quarantine.add_argument("--dry-run", action="store_true", help="repair: say what would be dropped, write nothing")
    quarantine.add_argument("--from", dest="source", type=Path, help="repair: write this corrected state JSON")
    quarantine.set_defaults(run=_quarantine)
    probe = sub.add_parser("probe", help="ask the local worker's /healthz (live) or /readyz (ready); exit 0 if OK")
    probe.add_argument("which", choices=["live", "ready"])
    probe.set_defaults(run=_probe)
    reindex = sub.add_parser("timers-reindex", help="after adding partitions: move timer index entries to them")
    reindex.add_argument("--from", dest="before", type=int, required=True, help="partitions before the change")
    reindex.set_defaults(run=_timers_reindex)
    rebuild = sub.add_parser("timers-rebuild", help="index the stored timers that lost their index entry")
    rebuild.set_defaults(run=_timers_rebuild)
    identity = sub.add_parser("identity", help="OneID: the canonical customer of any identifier, and its identifiers")
    identity.add_argument("id", help="<type>:<value> (phone:13800000000, wecom_external_id:wm1) or a member id")
    identity.add_argument("--events", type=Path, help="look it up in a dry run of these events, not in REDIS_URL")
    identity.set_defaults(run=_identity)


def _analytics_flags(simulate: Any) -> None:
    """simulate's journey-log options."""
    simulate.add_argument("--log", type=Path, help="write the journey-log records here (JSON lines)")
    simulate.add_argument("--explain", metavar="ID", help="say why this customer (id or type:value) entered or not")


def _analytics_commands(sub: Any) -> None:
    """report: what journeys did, from the journey log."""
    report = sub.add_parser("report", help="funnels, suppressions, failures and A/B results from the journey log")
    report.add_argument("files", nargs="*", type=Path, help="simulate --log files (default: read Kafka)")
    report.add_argument("--since", help="only records at or after this ISO time")
    report.add_argument("--until", help="only records at or before this ISO time")
    report.add_argument("--journey", help="only this journey id")
    report.add_argument("--output", choices=["text", "json", "csv"], default="text")
    report.add_argument("--html", type=Path, help="also write a self-contained HTML page with charts here")
    report.add_argument("--journeys", type=Path, help="journeys folder: list funnel steps in the files' order")
    report.set_defaults(run=_report)
    inspect = sub.add_parser("inspect", help="one customer from Redis and the journey log: instances, timers, outbox")
    inspect.add_argument("who", help="customer id, or an identifier as <type>:<value>")
    inspect.add_argument("--days", type=int, default=30, help="how many days of the log topic to read")
    inspect.add_argument("--output", choices=["text", "json"], default="text")
    inspect.set_defaults(run=_inspect)


def _fit_command(sub: Any) -> None:
    fit = sub.add_parser("fit", help="fit churn risk, stages and repurchase intervals from an events file")
    fit.add_argument("events", type=Path, help="events file (JSON Lines): order.paid and order.refunded are read")
    fit.add_argument("--until", required=True, type=date.fromisoformat, help="fit on events before this day")
    fit.add_argument("--out", type=Path, default=Path("journeys/figures.yaml"), help="the figures file to write")
    fit.add_argument("--horizon-days", type=float, default=90, help="churn risk: no purchase within this long")
    fit.add_argument("--lead-days", type=float, default=3, help="cycle hits this long before (scenarios.yaml)")
    fit.set_defaults(run=_fit)


def _fit(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.fitting.command import run  # scipy, lifetimes: only when fitting

    return run(args)


def _inspect(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.analytics.inspect import InspectRequest, run_inspect

    if args.days < 1:
        print("orchestrator inspect: --days must be at least 1", file=sys.stderr)
        return 2
    return run_inspect(InspectRequest(args.who, args.days, args.output), settings)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.analytics.command import ReportRequest, run_report

    request = ReportRequest(args.files, args.since, args.until, args.journey, args.output, args.html, args.journeys)
    return run_report(request, settings)


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


def _timers_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.timer_tools import timers_reindex

    return timers_reindex(settings, args.before)


def _timers_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.timer_tools import timers_rebuild

    return timers_rebuild(settings)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.bootstrap import build, redis_store
    from orchestrator.faust_app import run_worker
    from orchestrator.logs import configure

    configure(settings.xo_log_format, settings.xo_log_level)  # before loading: its warnings are logs too
    wired = build(settings)
    try:
        store = redis_store(settings)
    except ValueError as exc:
        print(f"orchestrator worker: {exc}", file=sys.stderr)
        return 2
    (settings.xo_data_dir / settings.xo_group_id).mkdir(parents=True, exist_ok=True)
    run_worker(wired, store)
    return 0


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import validate_paths

    found = validate_paths(args.paths or [settings.xo_journeys_dir], settings.xo_templates_dir, args.output)
    if found or args.intents is None:
        return found
    from orchestrator.tools import print_intent_scores

    return print_intent_scores((args.paths or [settings.xo_journeys_dir])[0], settings.xo_templates_dir, args.intents)


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import SimulateRequest, run_simulate

    request = SimulateRequest(
        journeys=args.journeys or settings.xo_journeys_dir,
        templates=args.templates or settings.xo_templates_dir,
        events=args.events,
        until=args.until,
        out=args.out,
        dump_profiles=args.dump_profiles,
        log=args.log,
        explain=_explainer(args.explain) if args.explain else None,
    )
    return run_simulate(request)


def _explainer(who: str) -> Any:
    from orchestrator.analytics.explain import explain

    return lambda world, sim, lines: explain(who, world, sim, lines)


def _graph(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import print_graph

    return print_graph(args.journey, settings, args.format, args.out)


def _plan(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.tools import print_plan

    return print_plan(args.old, args.new, settings, args.dump)


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.channels.contract import write_schemas
    from orchestrator.tools import write_schema

    for path in write_schemas(args.out.parent):  # the channel contract (docs/channels.md)
        print(f"wrote {path}")
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


def _probe(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.probe import probe

    return probe(settings.xo_web_host, settings.xo_web_port, args.which)


def _identity(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.identity_tool import run_identity

    return run_identity(args.id, args.events, settings)


def _send(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.demo import send_file

    if not settings.kafka_bootstrap_servers:
        print("orchestrator send: set KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    count = send_file(settings, args.file)
    print(f"sent {count} record(s) to {settings.xo_topic_prefix}.events")
    return 0


def _contract_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """schema (journey files and the channel contract) and channel (the reference channel worker)."""
    from orchestrator.channels import SENDERS

    schema = sub.add_parser("schema", help="write the JSON Schemas: journey files; actions, receipts, events beside it")
    schema.add_argument("--out", type=Path, default=Path("schema/journey.schema.json"))
    schema.set_defaults(run=_schema)
    channel = sub.add_parser("channel", help="reference channel worker: deliver one channel's actions, send receipts")
    channel.add_argument("channel", help="the channel whose topic to consume, e.g. wecom_private")
    channel.add_argument("--sender", choices=SENDERS, required=True)
    channel.add_argument("--url", help="webhook: the receiver's URL (secret: XO_WEBHOOK_SECRET)")
    channel.add_argument("--timeout", type=float, default=5.0, help="webhook: seconds per request")
    channel.add_argument("--out", type=Path, help="file: append one JSON line per send here")
    channel.add_argument("--reply", help="console: simulate the customer replying this text to every message")
    channel.add_argument("--rate", type=float, default=20.0, help="sends per second (token bucket)")
    channel.add_argument("--burst", type=int, default=20, help="bucket size: sends allowed at once")
    channel.add_argument("--max-attempts", type=int, default=5, help="attempts per action on transient failures")
    channel.add_argument("--dedupe-days", type=float, default=7.0, help="how long an action_id is remembered")
    channel.add_argument("--staff-quota", type=int, help="sends per staff account (to.staff_id) per local day")
    channel.add_argument("--quota-tz", default="Asia/Shanghai", help="the time zone of the quota's day")
    channel.add_argument(
        "--staff-hours", type=Path, help="YAML: working hours per staff account; their sends wait for them"
    )
    channel.add_argument("--group", help="consumer group (default: <prefix>.channel.<channel>)")
    channel.add_argument("--port", type=int, default=6067, help="metrics at http://XO_WEB_HOST:PORT/metrics")
    channel.set_defaults(run=_channel)


def _channel(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.bootstrap import kafka_client_options
    from orchestrator.channels.run import ChannelOptions, check, run_channel
    from orchestrator.core import CHANNELS

    if args.channel not in CHANNELS:
        print(
            f"orchestrator channel: unknown channel {args.channel!r}; one of {', '.join(sorted(CHANNELS))}",
            file=sys.stderr,
        )
        return 2
    try:
        kafka, redis_url = settings.require_servers()
        secret = settings.xo_webhook_secret
        options = ChannelOptions(
            channel=args.channel,
            sender=args.sender,
            bootstrap=kafka,
            redis_url=redis_url,
            prefix=settings.xo_topic_prefix,
            group=args.group,
            kafka_options=tuple(kafka_client_options(settings).items()),
            url=args.url,
            secret=secret.get_secret_value().encode() if secret else b"",
            timeout_s=args.timeout,
            out=args.out,
            reply=args.reply,
            rate=args.rate,
            burst=args.burst,
            max_attempts=args.max_attempts,
            dedupe_ttl_s=int(args.dedupe_days * 86400),
            staff_quota=args.staff_quota,
            quota_tz=args.quota_tz,
            staff_hours=args.staff_hours,
            web_host=settings.xo_web_host,
            web_port=args.port,
            fetch_wait_ms=settings.xo_fetch_wait_ms,
            session_timeout_s=settings.xo_session_timeout_s,
        )
        check(options)
    except ValueError as exc:
        print(f"orchestrator channel: {exc}", file=sys.stderr)
        return 2
    return run_channel(options)


def _quarantine(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from orchestrator.bootstrap import redis_tls_options
    from orchestrator.quarantine import QuarantineRequest, run_quarantine

    if not settings.redis_url:
        print("orchestrator quarantine: set REDIS_URL", file=sys.stderr)
        return 2
    request = QuarantineRequest(args.action, args.customer, args.dry_run, args.source)
    url = settings.redis_url.get_secret_value()
    client = redis.Redis.from_url(url, socket_timeout=10, **redis_tls_options(settings))
    return run_quarantine(request, client, settings.xo_topic_prefix)
