"""A strict YAML loader that remembers where every key and list item is, and flags YAML 1.1 traps.

PyYAML speaks YAML 1.1: ``at: 10:00`` loads as 600, ``on``/``no``/``yes`` as booleans.
This loader reads only ``true``/``false`` as booleans and has no sexagesimal numbers, and
it records every plain scalar that YAML 1.1 would have read otherwise, so that
validation reports it (quote it, or write true/false) instead of guessing.

Operator files are read as plain trees, so what could make one expensive or ambiguous is
refused with its position (a ``yaml.MarkedYAMLError``, reported as ``file:line``): anchors
and aliases (an eight-line "billion laughs" file expands to gigabytes, and an alias inside
its own anchor never ends), duplicate keys (the last one silently won) and keys that are not
plain scalars (a list or mapping as a key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line and column

# The spellings PyYAML (YAML 1.1) reads as booleans; only true/false are booleans here.
_BOOL_1_1 = re.compile(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_UNDERSCORE_NUMBER = re.compile(r"^[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?$")


class StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # unannotated in PyYAML's stubs
        if isinstance(event, yaml.AliasEvent):
            raise _refused(f"alias *{event.anchor} is not allowed: write the value out", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _refused(f"anchor &{anchor} is not allowed: write each value out", event.start_mark)
        return super().compose_node(parent, index)


def _refused(problem: str, mark: Any) -> yaml.MarkedYAMLError:
    return yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


_DROPPED = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


@dataclass
class LoadedYaml:
    """The data of one file, the position of each path inside it, and the YAML 1.1 traps found."""

    path: Path
    data: Any
    positions: dict[Path_, Position] = field(default_factory=dict)
    traps: list[tuple[Position, str]] = field(default_factory=list)

    def position_of(self, where: Path_) -> Position:
        """The position of the deepest known prefix of ``where`` (1:1 for the document)."""
        for end in range(len(where), 0, -1):
            position = self.positions.get(where[:end])
            if position is not None:
                return position
        return (1, 1)

    def line_of(self, where: Path_) -> int:
        return self.position_of(where)[0]


def load_yaml(path: Path) -> LoadedYaml:
    """Parse ``path``; raises yaml.YAMLError (with a mark) on bad syntax."""
    loader = StrictLoader(path.read_text(encoding="utf-8"))
    loaded = LoadedYaml(path, None)
    try:
        node = loader.get_single_node()
        loaded.data = _build(loader, node, (), loaded) if node is not None else None
    finally:
        loader.dispose()
    return loaded


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _build(loader: StrictLoader, node: yaml.Node, at: Path_, loaded: LoadedYaml) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _refused("a key must be a plain value, not a list or mapping", key_node.start_mark)
            key = _scalar(loader, key_node, loaded)
            if key in result:
                first = loaded.positions[(*at, key)][0]
                raise _refused(f"duplicate key {key!r} (first at line {first})", key_node.start_mark)
            loaded.positions[(*at, key)] = _position(key_node)
            result[key] = _build(loader, value_node, (*at, key), loaded)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            loaded.positions[(*at, index)] = _position(item)
            items.append(_build(loader, item, (*at, index), loaded))
        return items
    return _scalar(loader, node, loaded)


def _scalar(loader: StrictLoader, node: yaml.Node, loaded: LoadedYaml) -> Any:
    value = loader.construct_object(node, deep=True)
    if isinstance(node, yaml.ScalarNode) and node.style is None and isinstance(value, str):
        trap = _trap(value)
        if trap:
            loaded.traps.append((_position(node), trap))
    return value


def _trap(text: str) -> str | None:
    if _BOOL_1_1.match(text) and text not in ("true", "false"):
        return f'{text!r} is a boolean in YAML 1.1: quote it ("{text}") or write true/false'
    if _SEXAGESIMAL.match(text):
        return f'{text!r} is a base-60 number in YAML 1.1: quote it ("{text}")'
    if _UNDERSCORE_NUMBER.match(text):
        return f"{text!r} is a number with separators in YAML 1.1: quote it or drop the underscores"
    return None
