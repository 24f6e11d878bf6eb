"""The two ConfigMaps the worker Deployment mounts, from a journeys folder and a templates folder.

    python deploy/k8s/configmaps.py journeys templates | kubectl apply -f -

``xo-journeys`` holds the journey folder's files as they are (it is flat). ``xo-templates``
holds every template under ``<folder>__<file>``, because a ConfigMap key cannot contain
"/"; the Deployment's init container puts them back in a tree. Prints a v1 List as JSON
(kubectl reads it like YAML). Standard library only, so it runs in any CI.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SEPARATOR = "__"
KEY = re.compile(r"^[-._a-zA-Z0-9]+$")  # what Kubernetes accepts as a ConfigMap key
MAX_BYTES = 1024 * 1024  # a ConfigMap (like any object) must stay below 1 MiB


def config_map(name: str, data: dict[str, str]) -> dict[str, object]:
    size = sum(len(k) + len(v.encode()) for k, v in data.items())
    if size >= MAX_BYTES:
        raise ValueError(f"{name}: {size} bytes, above the 1 MiB a ConfigMap can hold")
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def flat_files(root: Path) -> dict[str, str]:
    """Every file under ``root`` keyed by its relative path with "/" written as ``__``."""
    data: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        key = relative.replace("/", SEPARATOR)
        if SEPARATOR in relative or not KEY.match(key):
            raise ValueError(f"{path}: the name cannot be a ConfigMap key (use letters, digits, '-', '.', '_')")
        data[key] = path.read_text(encoding="utf-8")
    return data


def config_maps(journeys: Path, templates: Path) -> dict[str, object]:
    nested = [p for p in journeys.rglob("*") if p.is_file() and p.parent != journeys]
    if nested:
        raise ValueError(f"{nested[0]}: the journeys folder must be flat")
    items = [config_map("xo-journeys", flat_files(journeys)), config_map("xo-templates", flat_files(templates))]
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: configmaps.py JOURNEYS_DIR TEMPLATES_DIR\n")
        return 2
    try:
        document = config_maps(Path(argv[0]), Path(argv[1]))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"configmaps.py: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
