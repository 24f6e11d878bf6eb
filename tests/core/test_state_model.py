"""The state's structs, their checking mirror and their plain view agree field for field."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import orjson
import pytest

from orchestrator.core import state as state_module
from orchestrator.core.migrations import StateUnreadable, dump_state, load_state
from orchestrator.core.state import STATE_SCHEMA, CustomerState, OrderRecord, Profile, Purchase
from orchestrator.core.state_check import CHECK, mirror, problems
from orchestrator.core.view import plain

AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
STRUCTS = [v for v in vars(state_module).values() if isinstance(v, type) and issubclass(v, state_module._Value)]  # noqa: SLF001 - every state struct


@pytest.mark.parametrize("struct", STRUCTS, ids=lambda s: s.__name__)
def test_the_mirror_has_the_struct_s_fields_in_order_with_their_defaults(struct: type[msgspec.Struct]) -> None:
    model = mirror(struct)
    fields = msgspec.structs.fields(struct)
    assert list(model.model_fields) == [f.name for f in fields]
    for info in fields:
        declared = model.model_fields[info.name]
        assert declared.is_required() == info.required, info.name
        if info.default is not msgspec.NODEFAULT:
            assert declared.default == info.default, info.name


def test_a_state_that_does_not_decode_names_every_problem_and_its_place() -> None:
    doc = plain(CustomerState.new("C1"))
    doc["profile"]["points"] = "many"
    doc["instances"] = {"i7": {"id": "i7"}}
    doc["forgotten_at"] = "2026-11-20T10:00:00"  # no offset
    with pytest.raises(StateUnreadable) as caught:
        load_state(orjson.dumps(doc))
    message = str(caught.value)
    assert message.startswith("state of C1: ")
    for place in ("profile.points", "instances.i7.journey_id", "forgotten_at"):
        assert place in message
    assert problems(doc) == message.removeprefix("state of C1: ")
    assert problems(CHECK.model_validate(plain(CustomerState.new("C1"))).model_dump(mode="json")) is None


def test_the_decoder_refuses_what_the_mirror_refuses() -> None:
    good = plain(CustomerState.new("C1"))
    for bad in ({**good, "extra": 1}, {**good, "seen": [1]}):
        assert problems(bad) is not None
        with pytest.raises(StateUnreadable):
            load_state(orjson.dumps(bad))


def test_what_only_the_decoder_refuses_is_named_by_the_decoder_s_own_message() -> None:
    lax = {**plain(CustomerState.new("C1")), "version": "3"}  # pydantic's lax mode would take "3"
    assert problems(lax) is None
    with pytest.raises(StateUnreadable, match=r"state of C1: Expected `int`, got `str` - at `\$.version`"):
        load_state(orjson.dumps(lax))


def test_plain_writes_every_field_in_json_s_types() -> None:
    purchase = Purchase(
        order_id="O1", time=AT, sku="s", category="c", qty=2.0, days=None, lead_days=None, product_name="p"
    )
    profile = Profile(tags=("vip",), purchases=(purchase,), order_log=(OrderRecord(order_id="O1", time=AT),))
    view = plain(profile)
    assert list(view) == list(Profile.__struct_fields__)
    assert view["tags"] == ["vip"]
    assert view["purchases"] == [
        {
            "order_id": "O1",
            "time": "2026-11-20T02:00:00Z",
            "sku": "s",
            "category": "c",
            "qty": 2.0,
            "days": None,
            "lead_days": None,
            "product_name": "p",
            "refunded": False,
        }
    ]
    assert view["order_log"] == [
        {"order_id": "O1", "time": "2026-11-20T02:00:00Z", "amount": 0.0, "categories": [], "refunded": False}
    ]
    stored = orjson.loads(dump_state(CustomerState.new("C1").model_copy(update={"profile": profile})))
    assert "refunded" not in stored["profile"]["purchases"][0]  # the stored form leaves defaults out
    assert stored["schema_version"] == STATE_SCHEMA
