"""Parsing /proc: a process's CPU time, the machine's busy time, the load average."""

from __future__ import annotations

import os

import pytest

from bench.perf import procs

# /proc/<pid>/stat with a command name holding a space and a parenthesis: fields are counted
# from the last ")". utime = 1234, stime = 566 ticks.
STAT = "4242 (python -m (x)) S 1 4242 4242 0 -1 4194304 900 0 0 0 1234 566 0 0 20 0 3 0 100 1000 200 " + " ".join(
    ["0"] * 30
)


def test_pid_cpu_is_utime_plus_stime_in_seconds() -> None:
    assert procs.parse_pid_cpu(STAT, ticks_per_s=100) == pytest.approx(18.0)


def test_machine_busy_leaves_idle_and_iowait_out() -> None:
    text = "cpu  100 20 30 5000 400 6 4 10 0 0\ncpu0 50 10 15 2500 200 3 2 5 0 0\n"
    # user + nice + system + irq + softirq + steal = 100 + 20 + 30 + 6 + 4 + 10
    assert procs.parse_machine_busy(text, ticks_per_s=100) == pytest.approx(1.7)


def test_machine_busy_refuses_another_file() -> None:
    with pytest.raises(ValueError, match="not the cpu total"):
        procs.parse_machine_busy("intr 1 2 3\n")


def test_loadavg() -> None:
    assert procs.parse_loadavg("1.50 0.75 0.25 2/345 6789\n") == (1.5, 0.75, 0.25)


def test_this_process_is_read_from_the_real_proc() -> None:
    spent = procs.cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))  # some CPU of our own
    assert procs.cpu_seconds(os.getpid()) >= spent > 0
    assert procs.tree_cpu_seconds(os.getpid()) >= spent
    assert procs.busy_cpu_seconds() > 0
    assert procs.cpu_seconds(2**22 + 1) == 0.0  # no such process
