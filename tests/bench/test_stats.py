"""The benchmark's arithmetic: summaries over rounds, the variants' order, a run's window."""

from __future__ import annotations

import pytest

from bench.perf.stats import Sample, rotation, summary, window


def test_summary_is_the_median_with_its_spread_and_ignores_what_was_not_measured() -> None:
    assert summary([3.0, 1.0, None, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert summary([4.0, 1.0]) == {"median": 2.5, "min": 1.0, "max": 4.0, "n": 2}
    assert summary([None]) == {"median": None, "min": None, "max": None, "n": 0}


def test_rotation_puts_every_variant_first_once_over_as_many_rounds() -> None:
    keys = ["a", "b", "c"]
    orders = [rotation(keys, r) for r in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert rotation(keys, 3) == keys
    assert rotation([], 2) == []


def _sample(t: float, inputs: float, worker: float, machine: float, **more: float) -> Sample:
    return Sample(t, {"inputs": inputs}, {"worker0": worker, "broker": 0.0, "machine": machine, **more})


def test_window_runs_from_the_sample_before_the_first_progress_to_the_one_that_reached_the_final_count() -> None:
    samples = [
        _sample(0.0, 0, 0.5, 10.0),  # start-up (joining the group): outside the window
        _sample(1.0, 0, 0.6, 10.5),  # the last sample before anything was processed: the window opens here
        _sample(2.0, 500, 1.1, 12.0),  # a whole batch counted at once
        _sample(3.0, 1000, 1.6, 13.5),
        _sample(4.0, 1000, 1.7, 14.0),  # the idle tail: outside too
    ]
    w = window(samples, "inputs")
    assert w.count == 1000
    assert w.seconds == 2.0
    assert w.per_s == 500
    assert w.cpu_s["worker"] == pytest.approx(1.0)  # the first batch's CPU and its count both inside
    assert w.us_per_input("worker") == pytest.approx(1000.0)
    assert w.cores("worker") == pytest.approx(0.5)
    # the machine was busy 3.0 s, of which 1.0 was ours: the rest was other load
    assert w.cpu_s["others"] == pytest.approx(2.0)
    assert "machine" not in w.cpu_s


def test_two_worker_processes_are_one_role_and_the_window_can_wait_for_both() -> None:
    samples = [
        Sample(0.0, {"inputs": 0, "w1": 0}, {"worker0": 0.5, "worker1": 0.0}),
        Sample(1.0, {"inputs": 50, "w1": 0}, {"worker0": 1.0, "worker1": 0.0}),  # the second not yet started
        Sample(2.0, {"inputs": 100, "w1": 10}, {"worker0": 1.5, "worker1": 0.5}),
        Sample(3.0, {"inputs": 500, "w1": 200}, {"worker0": 2.0, "worker1": 1.0}),
    ]
    w = window(samples, "inputs", started=lambda s: s.counts["w1"] > 0)
    assert w.count == 450
    assert w.seconds == 2.0
    assert w.cpu_s == {"worker": pytest.approx(2.0)}
    assert w.us_per_input("broker") is None


def test_a_window_needs_samples_and_a_start() -> None:
    with pytest.raises(ValueError, match="no samples"):
        window([], "inputs")
    with pytest.raises(ValueError, match="no sample"):
        window([_sample(0.0, 0, 0.0, 0.0)], "inputs")
    only = window([_sample(0.0, 10, 0.0, 0.0)], "inputs")  # progress in the very first sample: it opens there
    assert (only.count, only.seconds) == (0, 0)


def test_the_window_while_every_worker_was_busy_ends_when_the_first_had_done_its_share() -> None:
    from bench.perf.variants import _all_busy  # noqa: PLC0415 - the one helper of the engine runs tested here

    def at(t: float, w0: float, w1: float) -> Sample:
        return Sample(t, {"inputs": w0 + w1, "inputs_w0": w0, "inputs_w1": w1}, {})

    samples = [
        at(0.0, 0, 0),
        at(1.0, 100, 0),
        at(2.0, 300, 200),
        at(3.0, 500, 400),
        at(4.0, 500, 600),
        at(5.0, 500, 700),
    ]
    busy = _all_busy(
        samples, ["inputs_w0", "inputs_w1"], lambda s: s.counts["inputs_w0"] > 0 and s.counts["inputs_w1"] > 0
    )
    # opened at t=2 (both moved): the window starts at the sample before it (t=1, 100 done) and
    # ends when worker 0 reached its 500 (t=3, 900 done): 800 inputs in 2 s.
    assert busy == {"worker_done_s": [2.0, 4.0], "inputs_per_s_all_busy": 400.0}
