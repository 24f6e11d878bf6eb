"""Process facts from /proc (Linux): CPU seconds, peak RSS, children, load; and /metrics scraping."""

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
    "loadavg",
    "metric_sum",
    "peak_rss_mb",
    "scrape",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads); 0.0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def busy_cpu_seconds() -> float:
    """CPU seconds spent busy by the whole machine (all cores) since boot, from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


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
    for task in Path(f"/proc/{pid}/task").iterdir():
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
