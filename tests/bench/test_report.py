"""From runs to figures, targets and the printed table (synthetic runs; no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.perf.figures import figures_of, medians, paired
from bench.perf.redis_stats import key_kind
from bench.perf.report import spread, table
from bench.perf.targets import TARGETS, verdicts

Row = dict[str, Any]


def _row(variant: str, round_: int, per_s: float, worker_us: float, events_per_s: float | None = None) -> Row:
    row: dict[str, Any] = {
        "variant": variant,
        "round": round_,
        "inputs_per_s": per_s,
        "us_per_input": {"worker": worker_us, "broker": 20.0, "redis": 10.0, "bench": 1.0},
        "cores": {"worker": 0.9, "others": 0.1 * (round_ + 1)},
    }
    if events_per_s is not None:
        row["events_per_s"] = events_per_s
    return row


ROWS = [
    _row("faust_counter", 0, 10_000, 90),
    _row("faust_counter", 1, 8_000, 95),
    _row("faust_counter", 2, 12_000, 85),
    _row("engine_fresh_1", 0, 3_100, 300, events_per_s=3_000),
    _row("engine_fresh_1", 1, 4_100, 280, events_per_s=4_000),
    _row("engine_fresh_1", 2, 4_900, 260, events_per_s=4_800),
    _row("engine_fresh_2", 0, 5_580, 310),
    _row("engine_fresh_2", 1, 6_150, 300),
    _row("engine_fresh_2", 2, 9_310, 290),
    _row("engine_mature_1", 0, 2_000, 390),
    _row("engine_mature_1", 1, 2_100, 410),
    _row("engine_mature_1", 2, 1_900, 420),
]


def _result() -> dict[str, Any]:
    result: dict[str, Any] = {
        "date": "2026-12-03T14:40:00+00:00",
        "machine": {"cores": 2, "memory_gib": 23.5},
        "load_at_start": [1.2, 1.0, 0.9],
        "load_at_end": [1.4, 1.1, 1.0],
        "cores_busy_before": 0.3,
        "git": {"commit": "abc1234", "dirty": False},
        "plan": {
            "rounds": 3,
            "knobs": {"partitions": 8, "batch_size": 500, "batch_within_s": 0.05, "fetch_wait_ms": 10},
        },
        "workload": {
            "fresh": {"customers": 10_000, "events": 40_000, "types": {"chat.message": 20_000, "order.paid": 20_000}},
            "journeys": ["chat_reply", "vip"],
            "mature": {
                "customers": 400,
                "history_events_per_customer": 120,
                "events": 12_000,
                "state_bytes": {"p10": 7_100, "median": 9_000, "p90": 14_000, "max": 16_500},
            },
        },
        "runs": ROWS,
        "medians": medians(ROWS),
        "latency": {
            "produced_per_s": 2_000,
            "seconds": 30.0,
            "engine_ms": {"p50": 12.0, "p95": 30.0, "p99": 61.5},
            "broker_ms": {"p50": 40.0, "p95": 90.0, "p99": 140.0},
            "probes": 10,
            "probes_received": 10,
            "cpu_cores": {"others": 0.2},
        },
        "redis_memory": {
            "customers": 10_000,
            "keys": 40_000,
            "bytes_per_customer": 1_400,
            "bytes_by_kind": {"state": 12_000_000, "id": 2_000_000},
            "state_key_bytes_sample_mean": 1_200,
            "state_keys_sampled": 500,
        },
        "scheduled": {
            "mechanism": "audience-index",
            "hand_over": "in-process hand-over (due_timers → inputs → settle)",
            "customers": 1_000_000,
            "audience": 100_000,
            "fired": 1_000_000,
            "fire_s": 80.0,
            "fired_per_s": 12_500,
            "us_per_timer": {"bench": 50.0, "redis": 8.0, "broker": 4.0},
        },
    }
    result["figures"] = figures_of(result)
    result["targets"] = verdicts(result["figures"])
    return result


def test_ratios_are_paired_within_a_round_then_summarised() -> None:
    over = paired(ROWS, "engine_fresh_1", "faust_counter", "events_per_s")
    assert over == {"median": pytest.approx(0.4), "min": pytest.approx(0.3), "max": pytest.approx(0.5), "n": 3}
    two = paired(ROWS, "engine_fresh_2", "engine_fresh_1", "inputs_per_s")
    assert two["median"] == pytest.approx(1.8)  # 1.8, 1.5, 1.9; the ratio of the medians would be 1.5
    assert paired(ROWS, "engine_fresh_1", "aiokafka", "inputs_per_s")["n"] == 0


def test_medians_per_variant_over_rounds() -> None:
    m = medians(ROWS)
    assert m["engine_fresh_1"]["rounds"] == 3
    assert m["engine_fresh_1"]["us_per_input"]["worker"]["median"] == 280
    assert m["engine_fresh_1"]["events_per_s"]["median"] == 4_000
    assert m["faust_counter"]["events_per_s"]["median"] == 10_000  # inputs are its events
    assert m["engine_mature_1"]["others_cores"]["max"] == pytest.approx(0.3)


def test_figures_and_verdicts() -> None:
    r = _result()
    f = r["figures"]
    assert f["cpu_us_fresh"] == 280
    assert f["cpu_us_mature"] == 410
    assert f["p99_ms_half"] == 61.5
    got = {t["key"]: t["verdict"] for t in r["targets"]}
    assert got == {
        "engine_over_faust": "not met",  # 0.4 < 0.5
        "cpu_us_fresh": "not met",  # 280 > 250
        "cpu_us_mature": "not met",  # 410 > 400
        "two_over_one": "met",  # 1.8 ≥ 1.7
        "p99_ms_half": "not met",  # 61.5 ≥ 50
        "redis_bytes_fresh": "met",  # 1,400 ≤ 1,536
        "timers_per_s": "met",  # 12,500 ≥ 10,000
    }


def test_target_bounds_are_inclusive_or_strict_as_the_issue_says() -> None:
    by_key = {t.key: t for t in TARGETS}
    assert by_key["cpu_us_fresh"].verdict(250) == "met"
    assert by_key["p99_ms_half"].verdict(50) == "not met"
    assert by_key["two_over_one"].verdict(1.7) == "met"
    assert by_key["engine_over_faust"].verdict(None) == "not measured"
    assert verdicts({})[0]["verdict"] == "not measured"


def test_table_prints_every_row_figure_and_target_with_its_verdict() -> None:
    text = table(_result())
    assert "load average 1.20 1.00 0.90 at start" in text
    assert "engine, fresh mix, 1 worker" in text
    assert "aiokafka consume only" not in text  # a variant that did not run has no row
    assert "4,100 (3,100–4,900)" in text  # inputs/s: median (min–max) over the rounds
    assert "280 (260–300)" in text  # CPU µs per input
    assert "7,100 / 9,000 / 14,000 / 16,500 B" in text
    assert "p99 61.5 ms" in text
    assert "Redis per fresh customer: 1,400 B" in text
    assert "1,000,000 in 80.0s = 12,500/s" in text
    lines = {line.split("  ")[1].strip(): line for line in text.splitlines() if line.startswith("  ") and "×" in line}
    assert lines["engine / bare faust counter (events/s, same round)"].rstrip().endswith("not met")
    assert "0.40" in lines["engine / bare faust counter (events/s, same round)"]


def test_spread_after_one_round_is_the_figure_alone() -> None:
    assert spread({"median": 5.0, "min": 5.0, "max": 5.0, "n": 1}) == "5"
    assert spread({"median": None}) == "-"


def test_key_kinds() -> None:
    assert key_kind("bench-1:{B0000001}:state", "bench-1") == "state"
    assert key_kind("bench-1:{B0000001}:outbox", "bench-1") == "outbox"
    assert key_kind("bench-1:timers:{p0:3}", "bench-1") == "timers"
    assert key_kind("bench-1:id:phone:+86", "bench-1") == "id"


def test_each_run_is_listed_in_its_round() -> None:
    text = table(_result())
    round_two = next(line for line in text.splitlines() if line.startswith("  round 2:"))
    assert "faust_counter 8,000 · 95 · 0.20" in round_two
    assert "engine_mature_1 2,100 · 410 · 0.20" in round_two


def test_a_scheduled_journey_walked_through_the_audience_index() -> None:
    r = _result()
    r["scheduled"].update(
        audience_walk={
            "fired": 100_000,
            "fire_s": 8.0,
            "fired_per_s": 12_500,
            "us_per_customer": {"bench": 60.0, "redis": 5.0, "broker": 8.0},
            "engine_inputs_caused": 100_000,
            "worker_pace_default_per_s": 2000,
            "others_cores": 0.4,
        },
    )
    line = next(x for x in table(r).splitlines() if x.startswith("scheduled journey"))
    assert "audience 100,000 (audience-index): the walk handed 100,000 customers over in 8.0s = 12,500/s" in line
    assert "engine inputs caused 100,000 (1 per audience member)" in line


def test_two_over_one_while_both_were_busy_pairs_the_two_process_rate_before_the_first_finished() -> None:
    rows = [
        _row("engine_fresh_1", 0, 3_000, 300),
        {**_row("engine_fresh_2", 0, 4_800, 300), "inputs_per_s_all_busy": 5_400},
        _row("engine_fresh_1", 1, 3_000, 300),
        _row("engine_fresh_2", 1, 4_900, 300),  # a run from before the figure: left out
    ]
    both = paired(rows, "engine_fresh_2", "engine_fresh_1", "inputs_per_s", top_key="inputs_per_s_all_busy")
    assert both == {"median": pytest.approx(1.8), "min": pytest.approx(1.8), "max": pytest.approx(1.8), "n": 1}
