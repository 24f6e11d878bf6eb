"""Command line: ``orchestrator worker | validate | demo | send``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from orchestrator.errors import ConfigError
from orchestrator.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"orchestrator: invalid environment: {exc}", file=sys.stderr)
        return 2
    try:
        result: int = args.run(args, settings)
    except ConfigError as exc:
        print("orchestrator: invalid configuration, refusing to start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description="xo-journeys journey orchestration engine")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    worker = sub.add_parser("worker", help="run a worker (needs KAFKA_BOOTSTRAP_SERVERS and REDIS_URL)")
    worker.set_defaults(run=_worker)
    validate = sub.add_parser("validate", help="check journeys, the catalog and templates")
    validate.set_defaults(run=_validate)
    demo = sub.add_parser("demo", help="embedded broker + Redis + worker, feed example events, print actions")
    demo.add_argument("--events", type=Path, default=Path("examples/events.jsonl"))
    demo.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the actions")
    demo.set_defaults(run=_demo)
    send = sub.add_parser("send", help="produce a JSONL file of events to the events topic")
    send.add_argument("file", type=Path)
    send.set_defaults(run=_send)
    return parser


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
    from orchestrator.bootstrap import load_world

    config, _ = load_world(settings)
    products = len(config.products.products)
    print(f"ok: {len(config.journeys)} journey(s), {products} product(s) in {settings.xo_journeys_dir}")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.demo import run_demo

    return run_demo(settings, args.events, args.timeout)


def _send(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.demo import send_file

    if not settings.kafka_bootstrap_servers:
        print("orchestrator send: set KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    count = send_file(settings, args.file)
    print(f"sent {count} record(s) to {settings.xo_topic_prefix}.events")
    return 0
