"""Process facts from /proc (Linux): CPU seconds, peak RSS, children, load; and /metrics scraping."""

from __future__ import annotations

import os
import re
import urllib.request
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
_SAMPLE = re.compile(r"^([A-Za-z_:][^ ]*) (\S+)$")


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


def scrape(port: int, timeout: float = 5.0) -> dict[str, float]:
    """Every sample of a Prometheus exposition at 127.0.0.1:port/metrics; empty when it is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
            text = response.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            values[match.group(1)] = float(match.group(2))
    return values


def metric_sum(metrics: dict[str, float], name: str) -> float:
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))
