"""The state's copy: a new frozen struct sharing the values it does not replace."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from orchestrator.core.migrations import dump_state, load_state
from orchestrator.core.state import CustomerState, Instance, Profile, Timer

AT = datetime(2026, 11, 20, tzinfo=UTC)


def _values() -> list[msgspec.Struct]:
    state = CustomerState.new("C1").model_copy(update={"profile": Profile(name="王", tags=("vip",))})
    instance = Instance(id="i1", journey_id="j", version=1, step="s", entered_at=AT)
    return [state, state.profile, instance, Timer(id="t", due_at=AT)]


@pytest.mark.parametrize("update", [None, {}, {"version": 7}, {"tags": ("a",)}, {"step": None}, {"due_at": AT}])
def test_the_copy_replaces_what_it_is_given_and_shares_the_rest(update: dict[str, Any] | None) -> None:
    for value in _values():
        fields = type(value).__struct_fields__
        usable = None if update is None else {k: v for k, v in update.items() if k in fields}
        copied = value.model_copy(update=usable)  # type: ignore[attr-defined]  # every state struct has it
        assert copied is not value
        assert type(copied) is type(value)
        for name in fields:
            expected = (usable or {}).get(name, getattr(value, name))
            assert getattr(copied, name) is expected
        assert copied == msgspec.structs.replace(value, **(usable or {}))


def test_the_copy_stays_frozen_and_leaves_the_original_alone() -> None:
    state = CustomerState.new("C1")
    copied = state.model_copy(update={"version": 3})
    assert (state.version, copied.version) == (0, 3)
    with pytest.raises(AttributeError):
        copied.version = 4  # type: ignore[misc]  # frozen: the assignment is the point


def test_a_copy_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError, match="nickname"):
        Profile().model_copy(update={"nickname": "x"})


def test_a_copied_state_is_stored_and_read_back_equal() -> None:
    state = CustomerState.new("C1").model_copy(update={"segments": {"j": True}, "version": 2})
    assert load_state(dump_state(state)) == state
