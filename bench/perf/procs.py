"""Process facts from /proc (Linux): CPU seconds, peak RSS, children, load; and /metrics scraping.

The parsers (``parse_*``) take the files' text, so they are tested without a process.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.harness import scrape

__all__ = [  # scrape comes from the harness; the runs reach everything through this module
    "busy_cpu_seconds",
    "child_matching",
    "children",
    "cmdline",
    "cpu_seconds",
    "descendants",
    "loadavg",
    "metric_sum",
    "parse_loadavg",
    "parse_machine_busy",
    "parse_pid_cpu",
    "peak_rss_mb",
    "scrape",
    "tree_cpu_seconds",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_loadavg(text: str) -> tuple[float, float, float]:
    one, five, fifteen = text.split()[:3]
    return float(one), float(five), float(fifteen)


def parse_pid_cpu(text: str, ticks_per_s: int = CLK_TCK) -> float:
    """utime + stime, in seconds, of a ``/proc/<pid>/stat`` line.

    The command name (field 2) is in parentheses and may hold spaces and parentheses itself,
    so the fields are counted from the last ``)``: utime and stime are fields 14 and 15.
    """
    fields = text[text.rindex(")") + 2 :].split()  # fields 3.. (state first)
    return (int(fields[11]) + int(fields[12])) / ticks_per_s


def parse_machine_busy(text: str, ticks_per_s: int = CLK_TCK) -> float:
    """CPU seconds the machine spent busy (all cores) from ``/proc/stat``'s first line.

    Busy is user + nice + system + irq + softirq + steal; idle and iowait are not; guest
    time is already inside user and nice.
    """
    first = text.splitlines()[0].split()
    if first[0] != "cpu":
        raise ValueError(f"/proc/stat: first line is not the cpu total: {text.splitlines()[0]!r}")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / ticks_per_s


def loadavg() -> tuple[float, float, float]:
    return parse_loadavg(Path("/proc/loadavg").read_text())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads); 0.0 once it is gone."""
    try:
        return parse_pid_cpu(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0.0


def descendants(pid: int) -> list[int]:
    """Children, grandchildren … of ``pid`` that are alive now."""
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children(todo.pop())
        found += kids
        todo += kids
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its live descendants (a worker that starts helper processes)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in descendants(pid))


def cpu_by_role(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each server's process tree, of this process ("bench") and of the
    whole machine ("machine"): the difference of two readings is a measured stretch's CPU."""
    cpu = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    cpu["bench"] = cpu_seconds(os.getpid())
    cpu["machine"] = busy_cpu_seconds()
    return cpu


def busy_cpu_seconds() -> float:
    """CPU seconds spent busy by the whole machine (all cores) since boot, from /proc/stat."""
    return parse_machine_busy(Path("/proc/stat").read_text())


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the resident set's high-water mark, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int | None = None) -> list[int]:
    pid = pid or os.getpid()
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def child_matching(word: str) -> int | None:
    """The first child of this process whose command line contains ``word``."""
    return next((pid for pid in children() if word in cmdline(pid)), None)


def metric_sum(metrics: dict[str, float], name: str) -> float:
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))
