"""A version scheduled for the future that would never take an entry: a higher version is in force first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from orchestrator.config.problems import Problem, problem
from orchestrator.config.yaml_loader import LoadedYaml
from orchestrator.core.journey_spec import JourneySpec


def shadowed_versions(journeys: Sequence[tuple[JourneySpec, LoadedYaml]], now: datetime) -> list[Problem]:
    """Among the versions in force the highest wins (core/versions.py), so a version whose
    ``active_from`` is still ahead never runs when a higher one is in force by then. (Past
    ``active_from`` are history: an old version kept for its running instances is fine.)"""
    found = []
    runnable = [(j, loaded) for j, loaded in journeys if j.status != "draft"]
    for journey, loaded in runnable:
        start = journey.active_from
        if start is None or start <= now:
            continue
        for other, _ in runnable:
            if other.id != journey.id or other.version <= journey.version:
                continue
            if other.active_from is None or other.active_from <= start:
                when = f"from {other.active_from.isoformat()}" if other.active_from else "already"
                message = (
                    f"version {journey.version} would never take an entry: version {other.version} is in force "
                    f"{when}, before this version's active_from {start.isoformat()}"
                )
                found.append(problem(loaded.path, loaded.position_of(("active_from",)), "active_from", message))
                break
    return found
