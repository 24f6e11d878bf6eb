"""A running worker picks up changed journey files without a restart (docs/decisions.md §7).

The journeys and templates folders are polled (file names, sizes and mtimes every
XO_RELOAD_INTERVAL_S; SIGHUP checks at once). A changed set is loaded and checked in full,
exactly as at start-up, before it replaces the running one; a set with any problem is
refused, each problem logged as ``file:line:column: field: message``, and the running set
stays. The set live is named by a digest of its contents, in the log and in the metric
``xo_journey_set_info{digest}``.

Swapping the set does not switch versions: the core picks the version in force by the
processing time it is given (``active_from``), so every worker that holds the new files
switches at the same instant. A new version without a future ``active_from`` goes live on
each worker as it reloads; that is logged as a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import faust

from orchestrator.adapters.metrics import Metrics
from orchestrator.bootstrap import Wired, load_world
from orchestrator.core import World
from orchestrator.core.journey_spec import JourneySpec
from orchestrator.errors import ConfigError
from orchestrator.service.clock import SystemClock
from orchestrator.service.handler import Handler
from orchestrator.service.report import labelled_types
from orchestrator.settings import Settings

log = logging.getLogger("orchestrator.reload")
Signature = tuple[tuple[str, int, int], ...]


def _files(settings: Settings) -> Iterator[tuple[str, Path]]:
    journeys, templates = settings.xo_journeys_dir, settings.xo_templates_dir
    for path in sorted(journeys.glob("*.yaml")):
        yield f"journeys/{path.name}", path
    if templates.is_dir():
        for path in sorted(p for p in templates.rglob("*") if p.is_file()):
            yield f"templates/{path.relative_to(templates).as_posix()}", path


def signature(settings: Settings) -> Signature:
    """Names, sizes and mtimes of every file a journey set is made of: cheap to poll."""
    found = []
    for name, path in _files(settings):
        try:
            stat = path.stat()
        except OSError:  # removed between the listing and the stat: the next round sees it
            continue
        found.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def digest(settings: Settings) -> str:
    """What names a journey set: a hash of its files' names and contents."""
    sha = hashlib.sha256()
    for name, path in _files(settings):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        sha.update(f"{name}\0{len(content)}\0".encode())
        sha.update(content)
    return sha.hexdigest()[:12]


class JourneyReloader:
    """Checks the files, loads a changed set, hands a valid one to ``apply``."""

    def __init__(
        self,
        settings: Settings,
        world: World,
        apply: Callable[[World], Awaitable[None]],
        metrics: Metrics,
        clock: SystemClock,
    ) -> None:
        self.settings, self.world, self.apply, self.metrics, self.clock = settings, world, apply, metrics, clock
        self.seen = signature(settings)
        self.live = digest(settings)
        self.refused: str | None = None
        self.woken = asyncio.Event()
        metrics.journey_set.labels(self.live).set(1)
        log.info("journey set %s live: %s", self.live, _listing(world.journeys), extra={"kind": "journey_set"})

    def wake(self) -> None:
        """SIGHUP: look now, whatever the files' mtimes say."""
        self.seen = ()
        self.woken.set()

    async def run(self) -> None:
        interval = self.settings.xo_reload_interval_s or None  # 0: on SIGHUP only
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), interval)
            self.woken.clear()
            try:
                await self.check()
            except Exception:  # a reload must never end the worker: the running set stays
                log.exception("journey reload failed; journey set %s stays live", self.live)

    async def check(self) -> str:
        """One look at the files: ``unchanged``, ``applied`` or ``refused``."""
        now_seen = signature(self.settings)
        if now_seen == self.seen:
            return "unchanged"
        found = digest(self.settings)
        if found in (self.live, self.refused):
            self.seen = now_seen
            return "unchanged"
        try:
            world = await asyncio.to_thread(_load, self.settings)
        except ConfigError as exc:
            self.seen, self.refused = now_seen, found
            self.metrics.journey_reloads.labels("refused").inc()
            log.error(
                "journey set %s refused, %s stays live: %d problem(s)\n%s",
                found,
                self.live,
                len(exc.problems),
                exc,
                extra={"kind": "journey_set", "refused": found, "live": self.live},
            )
            return "refused"
        if digest(self.settings) != found:  # written to while it was read: look again next round
            return "unchanged"
        await self._swap(world, found, now_seen)
        return "applied"

    async def _swap(self, world: World, found: str, seen: Signature) -> None:
        previous, old = self.live, self.world
        await self.apply(world)
        self.world, self.live, self.seen, self.refused = world, found, seen, None
        self.metrics.journey_set.clear()
        self.metrics.journey_set.labels(found).set(1)
        self.metrics.journey_reloads.labels("applied").inc()
        log.info(
            "journey set %s live (was %s): %s",
            found,
            previous,
            _listing(world.journeys),
            extra={"kind": "journey_set", "live": found, "previous": previous},
        )
        for journey in _unscheduled(old, world, self.clock):
            log.warning(
                "journey %s version %d has no future active_from: it takes entries on each worker from the "
                "moment that worker reloads; give it active_from to switch every worker at one instant",
                journey.id,
                journey.version,
                extra={"kind": "journey_set", "journey": journey.id, "version": journey.version},
            )


def _load(settings: Settings) -> World:
    """The new set, checked in full; its word segmenter loaded here, off the event loop."""
    _, world = load_world(settings)
    if world.tokenizer is not None:
        world.tokenizer.cut("预热")  # jieba loads its dictionary on the first cut (about a second)
    return world


def _listing(journeys: tuple[JourneySpec, ...]) -> str:
    parts = [
        f"{j.id} v{j.version}" + (f" from {j.active_from.isoformat()}" if j.active_from else "")
        for j in sorted(journeys, key=lambda j: (j.id, j.version))
    ]
    return f"{len(parts)} journey version(s): " + ", ".join(parts)


def _unscheduled(old: World, new: World, clock: SystemClock) -> list[JourneySpec]:
    """New versions that take over as soon as they are loaded, not at an agreed instant."""
    now = clock.now()
    return [
        j
        for j in new.journeys
        if (j.id, j.version) not in old.by_version
        and j.status != "draft"
        and (j.active_from is None or j.active_from <= now)
        and old.current(j.id, now) is not None
    ]


def swap_into(handler: Handler, world: World) -> None:
    """The handler processes with ``world`` from its next input on; the population figures it learnt and
    the identity rules stay (identity.yaml takes effect at a restart: links already made depend on it)."""
    kept = replace(world, population=handler.world.population, identity=handler.world.identity)
    handler.world = kept
    handler.labelled = labelled_types(kept.journeys)
    if handler.oneid is not None:
        handler.oneid.world = kept


def install(
    app: faust.App, wired: Wired, handler: Handler, also: Callable[[World], None] = lambda _: None
) -> JourneyReloader:
    """The worker's hook: a task that watches the files, SIGHUP to look at once; ``also`` follows each swap."""
    s = wired.settings
    declared = {c for j in wired.world.journeys for c in j.channels()}

    async def apply(world: World) -> None:
        for channel in sorted({c for j in world.journeys for c in j.channels()} - declared):
            await app.topic(wired.topics.actions(channel), partitions=s.xo_partitions).maybe_declare()
            declared.add(channel)
        swap_into(handler, world)
        also(handler.world)

    reloader = JourneyReloader(s, handler.world, apply, wired.metrics, wired.clock)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a SIGHUP before the task below runs must not end the worker

    @app.task  # type: ignore[untyped-decorator]  # faust ships no types here
    async def journey_reloader() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloader.wake)
        every = f"every {s.xo_reload_interval_s:g}s and " if s.xo_reload_interval_s else ""
        log.info("watching %s and %s %son SIGHUP", s.xo_journeys_dir, s.xo_templates_dir, every)
        await reloader.run()

    return reloader
