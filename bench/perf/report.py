"""The results JSON as one table for the terminal."""

from __future__ import annotations

from typing import Any


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _ms(block: dict[str, Any]) -> str:
    return "  ".join(f"{k} {_n(block.get(k), 1)}" for k in ("p50", "p95", "p99") if k in block) + " ms"


def table(r: dict[str, Any]) -> str:
    m, w, load = r["machine"], r["workload"], r["load_at_start"]
    knobs = r["plan"]["knobs"]
    git = r["git"]
    lines = [
        f"xo-journeys benchmark · {r['date']} · {m['cores']} cores, {m['memory_gib']} GiB · "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start · "
        f"commit {git['commit']}{' + local changes' if git['dirty'] else ''} · {r.get('seconds', 0):.0f}s",
        f"workload: {w['customers']:,} customers · {w['events']:,} events ("
        + ", ".join(f"{t} {100 * c / w['events']:.0f}%" for t, c in w["types"].items())
        + f") · journeys {', '.join(w['journeys'])} · {knobs['partitions']} partitions · "
        f"fetch wait {knobs['fetch_wait_ms']} ms · "
        f"batch {knobs['batch_size']} / {knobs['batch_within_s'] * 1000:.0f} ms",
        "",
        "throughput, one worker, backlog pre-produced (first processed → last)",
        f"  {'run':<40}{'events/s':>10}{'actions/s':>11}{'inputs/s':>10}{'CPU (cores)':>13}{'RSS MiB':>9}{'join s':>8}",
    ]
    for e in r["engine"]:
        cpu = e["cpu_cores"]
        lines.append(
            f"  {e['label'] + ' (' + e['loop'] + ')' if e['loop'] not in e['label'] else e['label']:<40}"
            f"{_n(e['events_per_s']):>10}{_n(e['actions_per_s']):>11}{_n(e['inputs_per_s']):>10}"
            f"{_n(cpu.get('worker'), 2):>13}{_n(e['peak_rss_mb']):>9}{_n(e['startup_s'], 1):>8}"
        )
    for b in r["bare"]:
        cpu = b["cpu_cores"]
        lines.append(
            f"  {b['label']:<40}{_n(b['events_per_s']):>10}{'-':>11}{'-':>10}"
            f"{_n(cpu.get('bare'), 2):>13}{_n(b['peak_rss_mb']):>9}{_n(b['startup_s'], 1):>8}"
        )
    engine, bare = r["engine"][0], r["bare"][0]
    ratio = engine["events_per_s"] / bare["events_per_s"] if bare["events_per_s"] else 0.0
    verdict = "met" if ratio >= r["target_ratio"] else "missed"
    lines.append(f"  ratio engine / bare faust (asyncio): {ratio:.2f}  (target ≥ {r['target_ratio']}: {verdict})")
    two = next((b for b in r["bare"] if "forward" in b["label"]), None)
    if two and two["events_per_s"]:
        lines.append(
            f"  ratio engine / bare faust forward + count (the engine's two-stage topology, no work):"
            f" {engine['events_per_s'] / two['events_per_s']:.2f}; that topology itself / bare count:"
            f" {two['events_per_s'] / bare['events_per_s']:.2f}"
        )
    e0 = engine
    lines.append(
        f"  engine run: {_n(e0['events'])} events, {_n(e0['timers_fired'])} timers fired, {_n(e0['actions'])} actions,"
        f" {_n(e0['hits'])} scenario hits, {_n(e0['rejected'])} rejected;"
        f" broker {_n(e0['cpu_cores'].get('broker'), 2)} / Redis {_n(e0['cpu_cores'].get('redis'), 2)} cores"
    )
    lines.append(
        "  other load during the runs (cores busy outside this benchmark): "
        + ", ".join(f"{x['label']} {_n(x['cpu_cores'].get('others'), 2)}" for x in [*r["engine"], *r["bare"]])
    )
    lat = r["latency"]
    lines += [
        "",
        f"latency at {_n(lat['produced_per_s'])} events/s (half the engine's rate) for {lat['seconds']}s,"
        f" {lat['probes_received']}/{lat['probes']} probes",
        f"  engine's own (record handed to the handler → action acked; histogram, bucket-interpolated):"
        f"  {_ms(lat['engine_ms'])}  ({_n(lat['engine_actions'])} actions)",
        f"  broker-inclusive (event produced → action received; 2 worker hops + our consumer):"
        f"  {_ms(lat['broker_ms'])}  max {_n(lat['broker_ms'].get('max'), 1)} ms",
        "  cores busy meanwhile: " + ", ".join(f"{k} {v:.2f}" for k, v in lat.get("cpu_cores", {}).items()),
    ]
    for v in r.get("latency_variants", []):
        lines.append(
            f"  with XO_BATCH_WITHIN_S={v['batch_within_s']} ({_n(v['produced_per_s'])}/s, {v['seconds']}s):"
            f" engine's own {_ms(v['engine_ms'])} · broker-inclusive {_ms(v['broker_ms'])}"
            f" · throughput over its {_n(v['backlog_events'])}-event backlog {_n(v['backlog_events_per_s'])} events/s"
            f" · other load {_n(v.get('cpu_cores', {}).get('others'), 2)} cores"
        )
    rt, mem = engine["redis"], r["redis_memory"]
    by = ", ".join(f"{k} {v:.2f}" for k, v in list(rt["by_command_per_input"].items())[:8])
    trace = r.get("trace", {})
    trips = " · ".join(
        f"{_n(trace[k]['redis_round_trips_per_input'], 4)} ({label})"
        for k, label in (("backlog", "backlog"), ("half_rate", "half rate"))
        if k in trace
    )
    lines += [
        "",
        "Redis",
        f"  round trips per input (client pipelines + single commands, traced worker): {trips or '-'}",
        f"  commands per input: {rt['commands_per_input']:.2f} ({by}; Lua-internal calls included)",
        f"  memory per customer: {_n(mem['bytes_per_customer_all_in'])} B all-in (used_memory delta) ·"
        f" state key {_n(mem['state_key_bytes_mean'])} B (state JSON {_n(mem['state_json_bytes_mean'])} B mean,"
        f" {_n(mem['state_json_bytes_max'])} max) · {_n(mem['timer_index_entries'])} timer index entries",
        f"worker peak RSS: {_n(engine['peak_rss_mb'])} MiB",
    ]
    if trace:
        lines += [
            "",
            "where a batch's time goes (traced worker; wall ms per call · records per call; process is pure CPU,"
            " the others include awaits)",
        ]
        names = ("identify", "handle", "redis_load", "process", "redis_commit", "publish", "redis_settle")
        for key, label in (("backlog", "backlog"), ("half_rate", "half rate")):
            phases = trace.get(key, {}).get("phases", {})
            cells = [
                f"{n} {phases[n]['ms_per_call']}·{phases[n]['records_per_call']:.0f}" for n in names if n in phases
            ]
            lag = trace.get(key, {}).get("loop_lag_ms") or {}
            lines.append(f"  {label:<10}" + "  ".join(cells) + f"  · loop lag p99 {_n(lag.get('p99'), 0)} ms")
    t = r["timers"]
    lines += [
        "",
        "timers",
        f"  schedule {_n(t['scheduled'])}: {t['schedule_s']}s ({_n(t['schedule_per_s'])}/s; one ZADD per timer,"
        f" pipelined) · {t['schedule_batched_s']}s ({_n(t['schedule_batched_per_s'])}/s) as multi-member ZADDs ·"
        f" {t['index_bytes_per_timer']} B per index entry",
        f"  fire due timers (pump_once in a loop): {_n(t['fire_counting_per_s'])}/s to a counting publisher,"
        f" {_n(t['fire_to_kafka_per_s'])}/s into Kafka; a worker pumps ≤{t['pump_batch']} per"
        f" {1000 * t['pump_batch'] / t['worker_pump_ceiling_per_s']:.0f} ms tick"
        f" = {_n(t['worker_pump_ceiling_per_s'])}/s",
    ]
    micro = r.get("micro_us")
    if micro:
        lines += [
            "",
            f"in-process costs (µs per call, median-sized state of {_n(micro['state_json_bytes_median'])} B JSON)",
            f"  process(): plain chat line {micro['process_plain_chat_us']} · asking chat (renders a reply)"
            f" {micro['process_asking_chat_us']} · variables() {micro['variables_us']}",
            f"  state: model_validate_json {micro['state_model_validate_json_us']} · model_dump_json"
            f" {micro['state_model_dump_json_us']} · event decode_input {micro['decode_input_orjson_validate_us']}"
            f" vs model_validate_json {micro['event_model_validate_json_us']}",
            f"  condition 'event.data.text' {micro['condition_dotted_us']} vs \"event['data']['text']\""
            f" {micro['condition_subscript_us']}",
        ]
    prof = r.get("profile")
    if prof and "engine_inclusive" in prof:
        lines += ["", f"profile ({prof['samples']} samples, {prof.get('svg') or prof['folded']}), inclusive:"]
        wrappers = ("cli.py", "__main__.py", "retry.py", "faust_app.py")
        shown = [(n, p) for n, p in prof["engine_inclusive"] if not any(w in n for w in wrappers)]
        lines += [f"  {pct:5.1f}%  {name}" for name, pct in shown[:12]]
        lines.append("  self time by library: " + ", ".join(f"{k} {v}%" for k, v in prof["self_by_library"][:8]))
    return "\n".join(lines)
