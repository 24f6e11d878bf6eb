"""The results JSON as one table for the terminal (pure: a dict in, text out)."""

from __future__ import annotations

from typing import Any

LABELS = {
    "aiokafka": "aiokafka consume only",
    "aiokafka_decode": "aiokafka + decode",
    "faust_counter": "bare faust counter",
    "engine_fresh_1": "engine, fresh mix, 1 worker",
    "engine_fresh_2": "engine, fresh mix, 2 workers",
    "engine_mature_1": "engine, mature mix, 1 worker",
}


def n(value: Any, digits: int = 0) -> str:
    """A figure with thousands separators; "-" when it was not measured."""
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def spread(s: dict[str, Any], digits: int = 0) -> str:
    """``median (min–max)`` of a summary; the median alone after one round."""
    if s.get("median") is None:
        return "-"
    if s.get("n", 0) <= 1:
        return n(s["median"], digits)
    return f"{n(s['median'], digits)} ({n(s['min'], digits)}–{n(s['max'], digits)})"


def _header(r: dict[str, Any]) -> list[str]:
    m, load, git, plan = r["machine"], r["load_at_start"], r["git"], r["plan"]
    fresh = r["workload"]["fresh"]
    lines = [
        f"xo-journeys benchmark · {r['date']} · {m['cores']} cores, {m['memory_gib']} GiB · commit {git['commit']}"
        f"{' + local changes' if git['dirty'] else ''} · {r.get('seconds', 0):.0f}s",
        f"machine load: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
        f" (end {' '.join(f'{x:.2f}' for x in r.get('load_at_end', ()))}) · {n(r.get('cores_busy_before'), 2)}"
        " cores busy just before · other processes' cores during each run in the 'others' column",
        f"rounds: {plan['rounds']}, variants interleaved (order rotated each round); median (min–max) over rounds;"
        f" {plan['knobs']['partitions']} partitions · batch {plan['knobs']['batch_size']}"
        f" / {plan['knobs']['batch_within_s'] * 1000:.0f} ms · fetch wait {plan['knobs']['fetch_wait_ms']} ms",
        f"fresh mix: {fresh['customers']:,} customers · {fresh['events']:,} events per run ("
        + ", ".join(f"{t} {100 * c / fresh['events']:.0f}%" for t, c in fresh["types"].items())
        + f"); journeys {', '.join(r['workload']['journeys'])}",
    ]
    mature = r["workload"].get("mature")
    if mature:
        s = mature["state_bytes"]
        lines.append(
            f"mature mix: {mature['customers']:,} customers after {mature['history_events_per_customer']:,} history"
            f" events each (preloaded, not measured) · state JSON p10 / median / p90 / max {n(s['p10'])} /"
            f" {n(s['median'])} / {n(s['p90'])} / {n(s['max'])} B · {mature['events']:,} events per run"
        )
    return lines


def _throughput(r: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "throughput over a pre-produced backlog (window: first processed → last); CPU per input from /proc first",
        f"  {'run':<31}{'CPU µs/input':>20}{'broker µs':>10}{'Redis µs':>9}{'inputs/s':>28}{'events/s':>10}"
        f"{'others':>8}",
    ]
    for key, label in LABELS.items():
        m = r["medians"].get(key)
        if not m:
            continue
        us = m["us_per_input"]
        lines.append(
            f"  {label:<31}{spread(us['worker']):>20}{n(us['broker']['median']):>10}{n(us['redis']['median']):>9}"
            f"{spread(m['inputs_per_s']):>28}{n(m['events_per_s']['median']):>10}{n(m['others_cores']['median'], 2):>8}"
        )
    lines.append(
        "  (inputs: events + timers fired; CPU µs/input: utime+stime of the measured process(es) per input;"
        " broker / Redis: theirs per input; others: cores busy outside the benchmark)"
    )
    return lines


def _rounds(r: dict[str, Any]) -> list[str]:
    """Every run in the order it ran: inputs/s · CPU µs per input · other load (cores)."""
    lines = ["", "each run, in order (inputs/s · CPU µs/input · others' cores)"]
    for round_ in sorted({row["round"] for row in r.get("runs", [])}):
        cells = [
            f"{row['variant']} {n(row['inputs_per_s'])} · {n(row['us_per_input'].get('worker'))}"
            f" · {n(row['cores'].get('others'), 2)}"
            for row in r["runs"]
            if row["round"] == round_
        ]
        lines.append(f"  round {round_ + 1}: " + " | ".join(cells))
    return lines


def _latency(r: dict[str, Any]) -> list[str]:
    lat = r.get("latency")
    if not lat:
        return []

    def ms(block: dict[str, Any]) -> str:
        return " ".join(f"{k} {n(block.get(k), 1)}" for k in ("p50", "p95", "p99")) + " ms"

    return [
        "",
        f"latency at {n(lat['produced_per_s'])} events/s (half the engine's median) for {lat['seconds']}s:"
        f" engine's own (histogram) {ms(lat['engine_ms'])} · produce → action received {ms(lat['broker_ms'])}"
        f" ({lat['probes_received']}/{lat['probes']} probes) · others {n(lat['cpu_cores'].get('others'), 2)} cores",
    ]


def _extras(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    mem = r.get("redis_memory")
    if mem:
        kinds = ", ".join(f"{k} {n(v / mem['customers'])}" for k, v in list(mem["bytes_by_kind"].items())[:6])
        lines += [
            "",
            f"Redis per fresh customer: {n(mem['bytes_per_customer'])} B (MEMORY USAGE of all {n(mem['keys'])} keys"
            f" / {n(mem['customers'])} customers: {kinds}) · state key {n(mem['state_key_bytes_sample_mean'])} B"
            f" mean of {mem['state_keys_sampled']} sampled",
        ]
    s = r.get("scheduled")
    if s:
        lines += ["", *_scheduled(s)]
    return lines


def _scheduled(s: dict[str, Any]) -> list[str]:
    us = s["us_per_timer"]
    lines = [
        f"timers: {n(s['customers'])} due at once, fired through the timer index ({s.get('hand_over', '-')}):"
        f" {n(s['fired'])} in {s['fire_s']}s = {n(s['fired_per_s'])}/s · CPU µs per timer: harness"
        f" {n(us.get('bench'), 1)}, Redis {n(us.get('redis'), 1)}, broker {n(us.get('broker'), 1)}"
        f" · others {n(s.get('others_cores'), 2)} cores",
    ]
    head = f"scheduled journey over {n(s['customers'])} customers, audience {n(s['audience'])}"
    walk = s.get("audience_walk") or {}
    us = walk.get("us_per_customer", {})
    lines.append(
        f"{head} ({s['mechanism']}): the walk handed {n(walk.get('fired'))} customers over in"
        f" {walk.get('fire_s')}s = {n(walk.get('fired_per_s'))}/s (unpaced; a worker paces it at"
        f" XO_AUDIENCE_RATE, default {n(walk.get('worker_pace_default_per_s'))}/s) · CPU µs per customer:"
        f" walk {n(us.get('bench'), 1)}, Redis {n(us.get('redis'), 1)}, broker {n(us.get('broker'), 1)}"
        f" · engine inputs caused {n(walk.get('engine_inputs_caused'))} (1 per audience member)"
        f" · others {n(walk.get('others_cores'), 2)} cores"
    )
    return lines


def _targets(r: dict[str, Any]) -> list[str]:
    lines = ["", "targets (2 cores, quiet)", f"  {'figure':<56}{'value':>12}  {'target':<12}verdict"]
    for t in r.get("targets", []):
        value = t["value"]
        digits = 2 if isinstance(value, float) and abs(value) < 10 else 0
        lines.append(f"  {t['label']:<56}{n(value, digits):>12}  {t['target']:<12}{t['verdict']}")
    lat = r.get("latency")
    if lat:
        lines.append(
            f"  (p99 judged on the engine's own histogram; produce → action received, two fetch waits and our"
            f" consumer included: {n(lat['broker_ms'].get('p99'), 1)} ms)"
        )
    return lines


def table(r: dict[str, Any]) -> str:
    return "\n".join([*_header(r), *_throughput(r), *_rounds(r), *_latency(r), *_extras(r), *_targets(r)])
