"""The state's cheap copy is pydantic's shallow model_copy, result for result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from orchestrator.core.state import CustomerState, Instance, Profile, Timer

AT = datetime(2026, 11, 20, tzinfo=UTC)


def _values() -> list[BaseModel]:
    state = CustomerState.new("C1").model_copy(update={"profile": Profile(name="王", tags=("vip",))})
    instance = Instance(id="i1", journey_id="j", version=1, step="s", entered_at=AT)
    return [state, state.profile, instance, Timer(id="t", due_at=AT)]


@pytest.mark.parametrize("update", [None, {}, {"version": 7}, {"tags": ("a",)}, {"step": None}, {"due_at": AT}])
def test_the_copy_is_what_pydantic_makes(update: dict[str, Any] | None) -> None:
    for value in _values():
        fields = type(value).model_fields
        usable = None if update is None else {k: v for k, v in update.items() if k in fields}
        mine = value.model_copy(update=usable)
        theirs = BaseModel.model_copy(value, update=usable)
        assert mine is not value
        assert mine == theirs
        assert mine.__dict__ == theirs.__dict__
        assert mine.model_fields_set == theirs.model_fields_set
        assert mine.__pydantic_extra__ == theirs.__pydantic_extra__
        assert mine.__pydantic_private__ == theirs.__pydantic_private__
        assert mine.model_dump_json(exclude_unset=True) == theirs.model_dump_json(exclude_unset=True)
        assert all(getattr(mine, k) is getattr(value, k) for k in fields if k not in (usable or {}))


def test_the_copy_stays_frozen_and_leaves_the_original_alone() -> None:
    state = CustomerState.new("C1")
    copied = state.model_copy(update={"version": 3})
    assert (state.version, copied.version) == (0, 3)
    with pytest.raises(ValidationError):
        copied.version = 4  # type: ignore[misc]  # frozen: the assignment is the point


def test_a_deep_copy_is_pydantic_s() -> None:
    state = CustomerState.new("C1").model_copy(update={"segments": {"j": True}})
    deep = state.model_copy(deep=True)
    assert deep == state
    assert deep.segments is not state.segments
