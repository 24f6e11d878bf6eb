"""Stored states that cannot be loaded: why, and how to make them loadable again (pure).

A customer whose stored state does not load is quarantined by the handler (its inputs go to
the DLQ, the partition goes on). ``diagnose`` says why a stored state does not load, naming
the fields; ``repair`` makes it load by dropping what does not validate, field by field
(a dropped field takes its default; a record in a history whose required field is bad is
dropped whole), and says what it dropped so that an operator can judge the result first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from orchestrator.core import CustomerState
from orchestrator.core.migrations import StoredStateError, load_state, upgrade
from orchestrator.core.packing import PackingError, unpack
from orchestrator.core.state import STATE_SCHEMA
from orchestrator.core.state_check import CHECK

MAX_REPAIR_ROUNDS = 100


@dataclass(frozen=True)
class Repaired:
    state: CustomerState
    dropped: tuple[str, ...]  # the paths that were dropped, e.g. ``profile.spent``


def diagnose(raw: bytes, customer_id: str | None = None) -> str | None:
    """Why a stored state does not load (whatever its stored form), or None when it does."""
    try:
        load_state(raw, customer_id)
    except StoredStateError as exc:
        return str(exc)
    return None


def repair(raw: bytes, customer_id: str, version: int) -> Repaired:
    """A loadable state from a stored one, at ``version``; raises ValueError when it is not JSON."""
    try:
        data = orjson.loads(unpack(raw))
    except PackingError as exc:
        raise ValueError(f"the stored state does not unpack ({exc}): only `drop` can help") from exc
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the stored state is not JSON ({exc}): only `drop` can help") from exc
    if not isinstance(data, dict):
        data = {}
    form = data.get("schema_version", 0)
    if isinstance(form, int) and not isinstance(form, bool) and 0 <= form < STATE_SCHEMA:
        data = upgrade(data, form)  # an older form: bring it to today's before judging it
    data["schema_version"] = STATE_SCHEMA
    data["customer_id"] = customer_id
    dropped: list[str] = []
    for _ in range(MAX_REPAIR_ROUNDS):
        try:
            checked = CHECK.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                dropped.append(_drop(data, tuple(error["loc"]), error["type"] == "missing"))
            continue
        state = load_state(orjson.dumps(checked.model_dump(mode="json")), customer_id)
        return Repaired(state.model_copy(update={"version": version}), tuple(dict.fromkeys(dropped)))
    raise ValueError(f"still invalid after dropping {len(dropped)} field(s): only `drop` can help")


def _drop(data: dict[str, Any], loc: tuple[int | str, ...], missing: bool) -> str:
    """Remove the value at ``loc`` (its parent, when the value itself is missing); return the path."""
    path = loc[:-1] if missing else loc
    parent: Any = data
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return ".".join(map(str, path))  # already gone with an earlier drop
    if path and isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif path and isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent):
        parent.pop(path[-1])
    return ".".join(map(str, path)) or "(root)"
