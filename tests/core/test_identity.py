"""OneID rules: normalising identifiers, the canonical id, the survivor of a merge, link limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestrator.core.identity import (
    DEFAULT_TYPES,
    Identifier,
    IdentifierError,
    IdentityRules,
    canonical_id,
    check_links,
    identifiers,
    survivor,
)

RULES = IdentityRules()


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800000000", "+8613800000000"),
        ("138-0000-0000", "+8613800000000"),
        (" +86 138 0000 0000 ", "+8613800000000"),
        ("008613800000000", "+8613800000000"),
        ("8613800000000", "+8613800000000"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("400-800-8888", "+864008008888"),
        ("010-6552 8888", "+861065528888"),
        ("0755-86013388", "+8675586013388"),
    ],
)
def test_phones_become_e164(raw: str, e164: str) -> None:
    assert identifiers({"phone": raw}, RULES) == [Identifier("phone", e164)]


@pytest.mark.parametrize("raw", ["12345", "phone", "+0123456789", "1380000000000000000"])
def test_a_phone_that_is_not_one_is_refused_by_name(raw: str) -> None:
    with pytest.raises(IdentifierError, match=r"identity\.phone"):
        identifiers({"phone": raw}, RULES)


def test_ids_are_trimmed_emails_case_folded_unknown_types_ignored() -> None:
    found = identifiers(
        {"wecom_external_id": " wmABC ", "email": " Wang@Example.COM", "member_id": "M1", "shoe_size": "38"}, RULES
    )
    assert found == [
        Identifier("member_id", "M1"),
        Identifier("wecom_external_id", "wmABC"),
        Identifier("email", "wang@example.com"),
    ]


def test_control_characters_and_huge_values_are_refused() -> None:
    with pytest.raises(IdentifierError, match="control characters"):
        identifiers({"openid": "o\x1b[31m"}, RULES)
    with pytest.raises(IdentifierError, match="longer than 128"):
        identifiers({"openid": "o" * 1000}, RULES)


def test_canonical_ids_keep_member_ids_bare() -> None:
    assert canonical_id(Identifier("member_id", "M1001")) == "M1001"
    assert canonical_id(Identifier("wecom_external_id", "wm1")) == "wecom_external_id:wm1"


@pytest.mark.parametrize(
    ("a", "b", "kept"),
    [
        ("M1", "wecom_external_id:wm1", "M1"),
        ("phone:+8613800000000", "wecom_external_id:wm1", "phone:+8613800000000"),
        ("unionid:u1", "phone:+8613800000000", "unionid:u1"),
        ("M2", "M1", "M1"),
        ("wecom_external_id:b", "wecom_external_id:a", "wecom_external_id:a"),
    ],
)
def test_the_survivor_is_the_same_whichever_side_asks(a: str, b: str, kept: str) -> None:
    assert survivor(a, b, RULES)[0] == kept
    assert survivor(b, a, RULES) == survivor(a, b, RULES)


def test_limits_refuse_a_second_member_id_and_a_fourth_phone() -> None:
    held = [Identifier("member_id", "M1"), *(Identifier("phone", f"+86138000000{i:02}") for i in range(3))]
    refusals = check_links(held, [Identifier("member_id", "M2"), Identifier("phone", "+8613800000099")], RULES)
    assert [(r.identifier.kind, r.reason) for r in refusals] == [
        ("member_id", "at most 1 member_id per customer"),
        ("phone", "at most 3 phone per customer"),
    ]
    assert check_links(held, [Identifier("member_id", "M1"), Identifier("openid", "o1")], RULES) == []


def test_blocked_values_are_normalised_like_events() -> None:
    rules = IdentityRules.model_validate(
        {
            "types": {
                "phone": {"priority": 20, "normalise": ["phone_cn"], "max_per_customer": 3, "blocked": ["400-800-8888"]}
            }
        }
    )
    [shop_phone] = identifiers({"phone": "+86 4008008888"}, rules)
    [refusal] = check_links([Identifier("member_id", "M1")], [shop_phone], rules)
    assert "blocked" in refusal.reason
    assert set(rules.types) == set(DEFAULT_TYPES)  # declared types extend the defaults


def test_operator_types_are_checked_by_name() -> None:
    with pytest.raises(ValidationError, match="type 'Store Card'"):
        IdentityRules.model_validate({"types": {"Store Card": {"priority": 5}}})
    with pytest.raises(ValidationError, match=r"phone\.blocked: identity\.phone"):
        IdentityRules.model_validate({"types": {"phone": {"priority": 1, "normalise": ["phone_cn"], "blocked": ["x"]}}})
    rules = IdentityRules.model_validate({"types": {"store_card": {"priority": 5, "max_per_customer": 2}}})
    assert identifiers({"store_card": " C-9 "}, rules) == [Identifier("store_card", "C-9")]


KINDS = st.sampled_from(sorted(DEFAULT_TYPES))
IDS = st.builds(Identifier, KINDS, st.sampled_from(["a", "b", "c", "d", "e", "f"]))


@given(st.lists(st.lists(IDS, max_size=4), max_size=30))
def test_applying_only_allowed_links_never_breaks_a_limit(attempts: list[list[Identifier]]) -> None:
    held: set[Identifier] = set()
    for new in attempts:
        refused = {r.identifier for r in check_links(held, new, RULES)}
        held |= set(new) - refused
        for kind, rule in RULES.types.items():
            assert sum(1 for h in held if h.kind == kind) <= rule.max_per_customer
