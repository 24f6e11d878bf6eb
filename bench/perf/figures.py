"""From the runs of every round to the figures the targets are judged on (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.perf.stats import ROLES, summary


def _events_per_s(row: dict[str, Any]) -> float:
    return float(row.get("events_per_s", row["inputs_per_s"]))


def medians(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant, over its rounds: median / min / max of throughput, CPU per input by role, other load."""
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], []).append(row)
    return {
        variant: {
            "rounds": len(runs),
            "inputs_per_s": summary([r["inputs_per_s"] for r in runs]),
            "events_per_s": summary([_events_per_s(r) for r in runs]),
            "us_per_input": {role: summary([r["us_per_input"].get(role) for r in runs]) for role in ROLES},
            "others_cores": summary([r["cores"].get("others") for r in runs]),
        }
        for variant, runs in by_variant.items()
    }


def paired(
    rows: Sequence[dict[str, Any]], top: str, bottom: str, key: str, top_key: str | None = None
) -> dict[str, Any]:
    """``top`` / ``bottom`` within each round (they ran minutes apart under the same load), summarised;
    ``top_key``: read ``top``'s figure under another name."""
    ratios: list[float | None] = []
    rounds = sorted({r["round"] for r in rows})
    for round_ in rounds:
        a = next((r for r in rows if r["round"] == round_ and r["variant"] == top), None)
        b = next((r for r in rows if r["round"] == round_ and r["variant"] == bottom), None)
        if a and b and _value(b, key) and (top_key is None or top_key in a):
            ratios.append(_value(a, top_key or key) / _value(b, key))
    return summary(ratios)


def _value(row: dict[str, Any], key: str) -> float:
    return _events_per_s(row) if key == "events_per_s" else float(row[key])


def _median_cpu(med: dict[str, dict[str, Any]], variant: str) -> float | None:
    value = med.get(variant, {}).get("us_per_input", {}).get("worker", {}).get("median")
    return None if value is None else float(value)


def figures_of(result: dict[str, Any]) -> dict[str, Any]:
    """The figures the targets name (``targets.TARGETS``); None where the part did not run."""
    rows, med = result.get("runs", []), result.get("medians", {})
    over_faust = paired(rows, "engine_fresh_1", "faust_counter", "events_per_s")
    two_over_one = paired(rows, "engine_fresh_2", "engine_fresh_1", "inputs_per_s")
    # The same while both processes were busy: the backlog's uneven split leaves one working alone at the end.
    all_busy = paired(rows, "engine_fresh_2", "engine_fresh_1", "inputs_per_s", top_key="inputs_per_s_all_busy")
    latency = result.get("latency") or {}
    memory = result.get("redis_memory") or {}
    sched = result.get("scheduled") or {}
    return {
        "engine_over_faust": over_faust["median"],
        "engine_over_faust_range": [over_faust["min"], over_faust["max"]],
        "cpu_us_fresh": _median_cpu(med, "engine_fresh_1"),
        "cpu_us_fresh_two_workers": _median_cpu(med, "engine_fresh_2"),
        "cpu_us_mature": _median_cpu(med, "engine_mature_1"),
        "two_over_one": two_over_one["median"],
        "two_over_one_range": [two_over_one["min"], two_over_one["max"]],
        "two_over_one_all_busy": all_busy["median"],
        "p99_ms_half": (latency.get("engine_ms") or {}).get("p99"),
        "redis_bytes_fresh": memory.get("bytes_per_customer"),
        "timers_per_s": sched.get("fired_per_s"),
    }
