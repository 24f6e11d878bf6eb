"""One problem in an operator file, located to the column."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def problem(path: Path | str, position: tuple[int, int], field: str, message: str) -> Problem:
    return Problem(str(path), position[0], position[1], field, message)


def dotted(where: tuple[str | int, ...]) -> str:
    """``steps[0].send.channel`` for ``("steps", 0, "send", "channel")``."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
