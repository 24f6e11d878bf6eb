"""Pydantic's messages, said as an operator needs them: the key they probably meant, the rule
an identifier breaks (not the regular expression), and a corrected spelling."""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from orchestrator.config.events import did_you_mean

# A pattern's rule in words, and how to turn a wrong value into a right one.
RULES: dict[str, tuple[str, str]] = {
    r"^[a-z][a-z0-9_]*$": ("{what} is lowercase letters, digits and _, starting with a letter", "_"),
    r"^[a-z][a-z0-9_-]*$": ("a journey id is lowercase letters, digits, - and _, starting with a letter", "-"),
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": ('a local time is "HH:MM" in quotes, from "00:00" to "23:59"', ""),
    r"^[A-Za-z_][A-Za-z0-9_]*$": ("an attribute name is letters, digits and _, not starting with a digit", "_"),
    r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$": ("an event type is lowercase words joined by dots, e.g. order.paid", "_"),
}


def message(err: ErrorDetails, model: type[BaseModel]) -> str:
    """The operator's message for one pydantic error of ``model``."""
    kind, loc = err["type"], err["loc"]
    if kind == "extra_forbidden" and loc and isinstance(loc[-1], str):
        allowed = fields_at(model, loc[:-1])
        hint = did_you_mean(loc[-1], allowed)
        known = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {loc[-1]!r}{hint}{known}"
    if kind == "string_pattern_mismatch":
        rule = RULES.get(str((err.get("ctx") or {}).get("pattern", "")))
        if rule is not None:
            value = str(err.get("input", ""))
            fixed = _fixed(value, rule[1])
            hint = f" (did you mean {fixed!r}?)" if fixed and fixed != value else ""
            return f"{value!r}: {rule[0].format(what=_what(loc))}{hint}"
    return err["msg"]


STEP_REFERENCES = frozenset({"id", "next", "on_timeout", "on_skipped", "otherwise", "step"})


def _what(loc: tuple[int | str, ...]) -> str:
    """What a lowercase name at ``loc`` is: a step id (where steps are named), else a name."""
    last = next((part for part in reversed(loc) if isinstance(part, str)), "")
    return "a step id" if last in STEP_REFERENCES or "migrate" in loc else "a name"


def _fixed(value: str, joiner: str) -> str:
    if not joiner:
        return ""
    allowed = "a-z0-9_-" if joiner == "-" else "a-z0-9_"
    text = re.sub(rf"[^{allowed}]+", joiner, value.strip().lower()).strip(joiner)
    return text if text[:1].isalpha() else ""


def fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at ``loc`` (a pydantic error location, union tags included)."""
    node: Any = model
    for part in loc:
        node = _into(node, part)
        if node is None:
            return []
    node = _model_of(node)
    return list(node.model_fields) if node is not None else []


def _into(node: Any, part: int | str) -> Any:
    """The annotation one step down ``part`` from ``node`` (a tag of a union is a step too)."""
    model = _model_of(node)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    node = _strip(node)
    origin, args = get_origin(node), get_args(node)
    if origin in (tuple, list) and isinstance(part, int):
        return args[0]
    if origin is dict and isinstance(part, str):
        return args[1]
    if origin in (Union, types.UnionType):
        for member in args:
            if part in (_tag(member), getattr(_strip(member), "__name__", None)):
                return _strip(member)
        models = [m for m in args if _model_of(m) is not None]
        return _into(models[0], part) if len(models) == 1 else None
    return None


def _strip(node: Any) -> Any:
    return get_args(node)[0] if get_origin(node) is Annotated else node


def _tag(node: Any) -> str | None:
    if get_origin(node) is Annotated:
        for meta in get_args(node)[1:]:
            tag = getattr(meta, "tag", None)
            if isinstance(tag, str):
                return tag
    return None


def _model_of(node: Any) -> type[BaseModel] | None:
    node = _strip(node)
    if get_origin(node) in (Union, types.UnionType):
        models = [m for m in get_args(node) if _model_of(m) is not None]
        return _model_of(models[0]) if len(models) == 1 else None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None
