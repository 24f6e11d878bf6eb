"""``orchestrator report``: read the journey log from files or Kafka, print or write the report."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from orchestrator.analytics import html, render
from orchestrator.analytics.kafka_source import read_topics
from orchestrator.analytics.reader import Log, Window, read_lines
from orchestrator.analytics.report import JourneyReport, as_dict, build
from orchestrator.config.catalog import load_config
from orchestrator.settings import Settings


@dataclass(frozen=True)
class ReportRequest:
    files: list[Path]
    since: str | None = None
    until: str | None = None
    journey: str | None = None
    output: str = "text"
    html: Path | None = None
    journeys: Path | None = None  # a journeys folder: list funnel steps in the order the files write them


def run_report(request: ReportRequest, settings: Settings) -> int:
    try:
        window = Window(_instant(request.since, "--since"), _instant(request.until, "--until"))
    except ValueError as exc:
        print(f"orchestrator report: {exc}", file=sys.stderr)
        return 2
    log = Log()
    if request.files:
        for path in request.files:
            try:
                lines = path.read_bytes().splitlines()
            except OSError as exc:
                print(f"orchestrator report: {path}: {exc.strerror or exc}", file=sys.stderr)
                return 2
            read_lines(log, str(path), lines, window)
    elif settings.kafka_bootstrap_servers:
        read_topics(log, settings, window)
    else:
        print("orchestrator report: give simulate --log files, or set KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    order = None
    if request.journeys is not None:
        order = {
            (j.id, j.version): [s.id for s in j.steps]
            for j in load_config(request.journeys, settings.xo_templates_dir).journeys
        }
    reports = build(log, request.journey, order)
    _print(reports, request.output)
    if request.html:
        request.html.write_text(html.page(reports), encoding="utf-8")
        print(f"report written to {request.html}", file=sys.stderr)
    return _problems(log)


def _print(reports: list[JourneyReport], output: str) -> None:
    if output == "json":
        sys.stdout.buffer.write(orjson.dumps(as_dict(reports), option=orjson.OPT_INDENT_2) + b"\n")
    elif output == "csv":
        sys.stdout.write(render.csv_text(reports))
    else:
        sys.stdout.write(render.text(reports))


def _problems(log: Log) -> int:
    for version, count in sorted(log.unknown_versions.items()):
        print(
            f"orchestrator report: {count} record(s) of log version {version} skipped (this reader knows 1)",
            file=sys.stderr,
        )
    for problem in log.problems[:50]:
        print(problem, file=sys.stderr)
    if len(log.problems) > 50:
        print(f"… and {len(log.problems) - 50} more problem(s)", file=sys.stderr)
    return 1 if log.problems else 0


def _instant(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{flag} {value!r} is not an ISO time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{flag} needs a time zone, e.g. 2026-12-01T00:00:00+08:00")
    return moment
