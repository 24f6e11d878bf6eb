"""Durations as operators write them: ``90s``, ``15m``, ``2h``, ``3d``, ``1w`` (``-3d`` where signed)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^(-?)(\d+)([smhdw])$")
_HINT = "write e.g. 90s, 15m, 2h, 3d or 1w"


def parse_duration(text: object, signed: bool = False) -> timedelta:
    """Parse ``<integer><unit>``; anything else is a ValueError that says what is allowed."""
    if isinstance(text, timedelta):
        return text
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None or (match.group(1) and not signed):
        raise ValueError(f"{text!r} is not a duration; {_HINT}")
    seconds = int(match.group(2)) * _UNITS[match.group(3)]
    return timedelta(seconds=-seconds if match.group(1) else seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{sign}{seconds // _UNITS[unit]}{unit}"
    return f"{sign}{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+[smhdw]$", "examples": ["30m", "2d"]}),
]
SignedDuration = Annotated[
    timedelta,
    BeforeValidator(lambda text: parse_duration(text, signed=True)),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+[smhdw]$", "examples": ["-3d", "182d"]}),
]
