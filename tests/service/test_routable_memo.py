"""``identify.routable`` remembers each identity's routing: the same answers as working it out
again, refusals raised anew each time, and nothing kept across a change of the rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core.identity import Identifier, IdentityRules, IdentityType
from orchestrator.errors import InputError
from orchestrator.service import identify

identities = st.dictionaries(
    st.sampled_from(["member_id", "phone", "wecom_external_id", "email", "unknown_kind"]),
    st.sampled_from(["M1", " M2 ", "+8613800000000", "138 0000 0001", "not a phone", "", "a@b.c", "x\x01"]),
    max_size=4,
)


def _fresh(identity: dict[str, str], rules: IdentityRules) -> list[Identifier] | str:
    try:
        return identify._routable(identity, rules)  # noqa: SLF001 - the function the memo stands for
    except InputError as exc:
        return f"{exc.code}: {exc.reason}"


def _remembered(identity: dict[str, str], rules: IdentityRules) -> list[Identifier] | str:
    try:
        return identify.routable(identity, rules)
    except InputError as exc:
        return f"{exc.code}: {exc.reason}"


@settings(max_examples=200, deadline=None, database=None)
@given(identity=identities)
def test_the_remembered_routing_is_the_routing(identity: dict[str, str]) -> None:
    rules = IdentityRules()
    first, again = _remembered(identity, rules), _remembered(identity, rules)
    assert first == again == _fresh(identity, rules)


def test_a_refusal_is_raised_anew_and_a_list_is_a_copy() -> None:
    rules = IdentityRules()
    raised = []
    for _ in range(2):
        with pytest.raises(InputError, match="no identifier of a known type") as caught:
            identify.routable({"unknown_kind": "x"}, rules)
        raised.append(caught.value)
    assert raised[0] is not raised[1]
    found = identify.routable({"member_id": "M1"}, rules)
    found.clear()
    assert [i.key for i in identify.routable({"member_id": "M1"}, rules)] == ["member_id:M1"]


def test_new_rules_forget_what_the_old_ones_said() -> None:
    identity = {"member_id": "M1", "phone": "+8613800000000"}
    before = identify.routable(identity, IdentityRules())
    blocking = IdentityRules(
        types={"phone": IdentityType(priority=20, normalise=("phone_cn",), blocked=("+8613800000000",))}
    )
    assert [i.key for i in identify.routable(identity, blocking)] != [i.key for i in before]
    assert identify.routable(identity, blocking) == _fresh(identity, blocking)
