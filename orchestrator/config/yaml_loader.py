"""A strict YAML loader that remembers the line of every key and list item.

PyYAML speaks YAML 1.1: ``at: 10:00`` loads as 600, ``on``/``no``/``yes`` as booleans.
This loader only accepts ``true``/``false`` as booleans and has no sexagesimal numbers,
so those values stay the strings operators meant.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class StrictLoader(yaml.SafeLoader):
    pass


StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
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


class LoadedYaml:
    """The data of one file plus the line of each path inside it."""

    def __init__(self, path: Path, data: Any, lines: dict[Path_, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, where: Path_) -> int:
        """The line of the deepest known prefix of ``where`` (1 for the document)."""
        for end in range(len(where), 0, -1):
            line = self.lines.get(where[:end])
            if line is not None:
                return line
        return 1


def load_yaml(path: Path) -> LoadedYaml:
    """Parse ``path``; raises yaml.YAMLError (with a mark) on bad syntax."""
    text = path.read_text(encoding="utf-8")
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = _build(loader, node, (), lines) if node is not None else None
    finally:
        loader.dispose()
    return LoadedYaml(path, data, lines)


def _build(loader: StrictLoader, node: yaml.Node, at: Path_, lines: dict[Path_, int]) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            lines[(*at, key)] = key_node.start_mark.line + 1
            result[key] = _build(loader, value_node, (*at, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*at, index)] = item.start_mark.line + 1
            items.append(_build(loader, item, (*at, index), lines))
        return items
    return loader.construct_object(node, deep=True)
