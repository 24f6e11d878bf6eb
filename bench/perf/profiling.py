"""Sampling profiles of a running worker with py-spy, and what they say.

``record`` attaches py-spy to a pid twice at once: folded stacks (``--format raw``, for the
tables here, loadable in speedscope or flamegraph.pl) and an SVG flame graph. ``analyse``
turns folded stacks into shares of the samples: by function inclusive (the function or
anything it calls is running), by function self (the leaf), and by library of the leaf.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


@dataclass(frozen=True)
class Recording:
    folded: Path
    svg: Path | None


def record(pid: int, seconds: float, out_dir: Path, stem: str, rate: int = 100) -> Recording:
    """Sample ``pid`` for ``seconds`` (py-spy pauses it briefly per sample: accurate stacks)."""
    binary = py_spy()
    if binary is None:
        raise FileNotFoundError("py-spy is not installed (pip install py-spy)")
    out_dir.mkdir(parents=True, exist_ok=True)
    folded, svg = out_dir / f"{stem}.folded.txt", out_dir / f"{stem}.svg"
    common = [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate)]
    raw = subprocess.Popen(  # noqa: S603 - py-spy from the venv, fixed argv
        [*common, "--format", "raw", "--threads", "--output", str(folded)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    flame = subprocess.Popen(  # noqa: S603 - py-spy from the venv, fixed argv
        [*common, "--format", "flamegraph", "--output", str(svg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    raw.wait(timeout=seconds + 60)
    flame.wait(timeout=seconds + 60)
    return Recording(folded, svg if svg.exists() else None)


def _frame_key(frame: str, with_line: bool = False) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    name, file, line = match.group("name"), match.group("file"), match.group("line")
    return f"{name} ({file}:{line})" if with_line and line else f"{name} ({file})"


def _library(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    file = match.group("file") if match else frame
    if file.startswith("orchestrator/"):
        return "/".join(file.split("/")[:2]) if "/" in file[len("orchestrator/") :] else file
    if file.startswith("<frozen") or "/" not in file:
        return file
    return file.split("/", 1)[0]


def analyse(folded: Path, top: int = 25) -> dict[str, Any]:
    """Shares (percent of all samples) by function inclusive and self, and by leaf library."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    own_lines: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        total += count
        threads[thread.split(":", 1)[-1].strip() or thread] += count
        if not frames:
            continue
        for key in {_frame_key(f) for f in frames}:
            inclusive[key] += count
        own[_frame_key(frames[-1])] += count
        own_lines[_frame_key(frames[-1], with_line=True)] += count
        libraries[_library(frames[-1])] += count

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in counter.most_common(n)] if total else []

    engine = Counter({k: v for k, v in inclusive.items() if "(orchestrator/" in k})
    return {
        "samples": total,
        "threads": share(threads, 10),
        "inclusive": share(inclusive, top),
        "engine_inclusive": share(engine, top),
        "self": share(own, top),
        "self_lines": share(own_lines, top),
        "self_by_library": share(libraries, 15),
    }


def lines(analysis: dict[str, Any], n: int = 15) -> list[str]:
    """A readable summary of ``analyse``'s result."""
    out = [f"samples {analysis['samples']}; threads: " + ", ".join(f"{k} {v}%" for k, v in analysis["threads"])]
    for title, key in (
        ("engine functions, inclusive", "engine_inclusive"),
        ("self time by function", "self"),
        ("self time by library", "self_by_library"),
    ):
        out.append(f"  {title}:")
        out += [f"    {pct:5.1f}%  {name}" for name, pct in analysis[key][:n]]
    return out
