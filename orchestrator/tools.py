"""Operator tools behind the CLI: validate, simulate, graph, plan, schema."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from orchestrator.bootstrap import redis_tls_options
from orchestrator.config.catalog import Config, load_config
from orchestrator.config.dot import RenderError, dot, svg
from orchestrator.config.mermaid import mermaid
from orchestrator.config.yaml_loader import load_yaml
from orchestrator.core import CustomerState, JourneySpec, World
from orchestrator.core.migrations import load_state
from orchestrator.errors import ConfigError
from orchestrator.intent_scores import read_corpus, table
from orchestrator.service.simulate import Simulation, simulate
from orchestrator.settings import Settings

SCHEMA_HEADER = "# yaml-language-server: $schema="


def problems_json(problems: Sequence[object]) -> str:
    return json.dumps(
        [p.as_dict() if hasattr(p, "as_dict") else {"message": str(p)} for p in problems], ensure_ascii=False, indent=2
    )


def validate_paths(paths: Sequence[Path], templates: Path, output: str) -> int:
    problems: list[object] = []
    journeys = 0
    for path in paths:
        try:
            config = load_config(path.parent, templates, [path]) if path.is_file() else load_config(path, templates)
            journeys += len(config.journeys)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if output == "json":
        print(problems_json(problems))
    else:
        for problem in problems:
            print(problem)
        summary = f"{len(problems)} problem(s)" if problems else f"ok: {journeys} journey(s) valid"
        print(summary, file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


@dataclass(frozen=True)
class SimulateRequest:
    journeys: Path
    templates: Path
    events: Path
    until: str | None
    out: Path | None
    dump_profiles: Path | None
    log: Path | None = None  # the journey-log records, one JSON line each
    explain: Callable[[World, Simulation, list[bytes]], str] | None = None  # written instead of the records


def run_simulate(request: SimulateRequest) -> int:
    try:
        until = datetime.fromisoformat(request.until) if request.until else None
    except ValueError:
        print(f"orchestrator simulate: --until {request.until!r} is not an ISO time", file=sys.stderr)
        return 2
    if until is not None and until.tzinfo is None:
        print("orchestrator simulate: --until needs a time zone, e.g. 2026-12-01T00:00:00+08:00", file=sys.stderr)
        return 2
    lines = request.events.read_bytes().splitlines()
    config = load_config(request.journeys, request.templates, calendar_years=_years(lines, until))
    world = _world(config)
    sim = simulate(world, lines, until, _progress if sys.stderr.isatty() and len(lines) > 5000 else None)
    body = b"".join(r + b"\n" for r in sim.records)
    if request.out:
        request.out.write_bytes(body)
    elif request.explain is None:
        sys.stdout.buffer.write(body)
    if request.explain is not None:
        sys.stdout.write(request.explain(world, sim, lines))
    if request.log:
        request.log.write_bytes(b"".join(r + b"\n" for r in sim.log))
    if request.dump_profiles:
        request.dump_profiles.write_bytes(b"".join(s + b"\n" for s in sim.dump_states()))
    for number, reason in sim.rejected:
        print(f"{request.events}:{number}: rejected: {reason}", file=sys.stderr)
    suppressed = sum(len(o.suppressed) for o in sim.outcomes)
    failures = sum(len(o.failures) for o in sim.outcomes)
    print(
        f"simulated {len(lines)} line(s): {len(sim.actions)} action(s), {len(sim.states)} customer(s), "
        f"{suppressed} suppressed, {failures} step failure(s), {len(sim.rejected)} rejected"
        + (f", {sim.skipped} after --until not replayed" if sim.skipped else ""),
        file=sys.stderr,
    )
    return 0


def _years(lines: Sequence[bytes], until: datetime | None) -> set[int]:
    """The years a dry run spans: from the first event's to the last one's (or --until)."""
    years: set[int] = set()
    for line in (lines[0], lines[-1]) if lines else ():
        try:
            years.add(datetime.fromisoformat(str(json.loads(line)["time"])).year)
        except (ValueError, KeyError, TypeError):
            continue  # simulate reports the line itself
    if until is not None:
        years.add(until.year)
    return set(range(min(years), max(years) + 1)) if years else set()


def _progress(done: int, total: int) -> None:
    if done % 1000 == 0 or done == total:
        print(f"\rsimulate: {done}/{total} events", end="\n" if done == total else "", file=sys.stderr, flush=True)


def print_graph(reference: str, settings: Settings, form: str = "mermaid", out: Path | None = None) -> int:
    journey = _journey(reference, settings)
    try:
        body = svg(journey) if form == "svg" else (dot(journey) if form == "dot" else mermaid(journey)).encode()
    except RenderError as exc:
        print(f"orchestrator graph: {exc}", file=sys.stderr)
        return 2
    if out is not None:
        out.write_bytes(body)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0


def print_plan(old_ref: str, new_ref: str, settings: Settings, dump: Path | None) -> int:
    old, new = _journey(old_ref, settings), _journey(new_ref, settings)
    if old.id != new.id:
        print(f"orchestrator plan: {old.id} and {new.id} are different journeys", file=sys.stderr)
        return 2
    states = _dumped_states(dump) if dump else _live_states(settings)
    waiting = Counter(
        str(i.step) for s in states for i in s.instances.values() if i.journey_id == old.id and i.version == old.version
    )
    mapping = new.migrate.steps if new.migrate and new.migrate.from_version == old.version else {}
    print(f"{old.id} v{old.version} → v{new.version}: {sum(waiting.values())} instance(s) waiting")
    print(f"  {'step':<24}{'waiting':>8}  goes to")
    for step, count in sorted(waiting.items()):
        target = f"{mapping[step]} (v{new.version})" if step in mapping else f"stays on v{old.version} (no mapping)"
        print(f"  {step:<24}{count:>8}  → {target}")
    return 0


def write_schema(out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(journey_schema(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


def journey_schema() -> str:
    schema = JourneySpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "xo-journeys journey"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _journey(reference: str, settings: Settings) -> JourneySpec:
    path = Path(reference)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return JourneySpec.model_validate(load_yaml(path).data)
    config = load_config(settings.xo_journeys_dir, settings.xo_templates_dir, calendar_years=())
    journey_id, _, version = reference.partition("@")
    matches = [j for j in config.journeys if j.id == journey_id and (not version or str(j.version) == version)]
    if not matches:
        raise ConfigError([f"{settings.xo_journeys_dir}: no journey {reference!r}"])
    return max(matches, key=lambda j: j.version)


def _dumped_states(path: Path) -> list[CustomerState]:
    return [load_state(line) for line in path.read_bytes().splitlines() if line.strip()]


def _live_states(settings: Settings) -> list[CustomerState]:
    _, url = settings.require_servers()
    client = redis.Redis.from_url(url, **redis_tls_options(settings))
    states = []
    for key in client.scan_iter(match=f"{settings.xo_topic_prefix}:{{*}}:state", count=1000):
        raw = client.hget(key, "s")
        if raw:
            states.append(load_state(raw))
    return states


def _world(config: Config) -> World:
    return config.world()


def print_intent_scores(journeys: Path, templates: Path, corpus: Path) -> int:
    """``validate --intents``: the configured chat intents scored on a labelled corpus."""
    try:
        rows = read_corpus(corpus)
    except (ConfigError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    world = load_config(journeys if journeys.is_dir() else journeys.parent, templates, only=[]).world()
    print("\n".join(table(rows, world.scenarios, world.tokenizer, world.intent_models)))
    return 0
