"""OneID rules, pure: which identifiers an event carries, in what form, which customer id they make,
which of two customers survives a merge, and which links the per-customer limits refuse.

The graph itself (identifier → customer id) lives in Redis (``adapters.redis_identity``); this
module only decides. Rules (docs/identity.md, docs/decisions.md §1):

* an identifier is ``(type, value)``; values are normalised per type (phones to E.164, ids
  trimmed, case-folded where the type says so) and written ``<type>:<value>``;
* an unmerged customer's canonical id comes from the first identifier the engine saw for
  them: the bare value for ``member_id``, ``<type>:<value>`` for every other type;
* of two customers, the survivor of a merge is the one whose id comes from the type of higher
  priority (lower number), then the smaller id: a rule that needs no state, so every worker
  picks the same survivor;
* a link that would give a customer more identifiers of a type than its limit, or that uses a
  blocked value, is refused with a reason, never applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MEMBER_ID = "member_id"
TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_VALUE_CHARS = 128
Normaliser = Literal["trim", "casefold", "phone_cn"]


class IdentityType(BaseModel):
    """How one identifier type is read and how many of it one customer may hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: int = Field(ge=0, le=1000, description="lower wins: the survivor of a merge, the id of a new customer")
    normalise: tuple[Normaliser, ...] = Field(default=("trim",), description="applied in order")
    max_per_customer: int = Field(default=1, ge=1, le=100, description="links beyond this are refused")
    blocked: tuple[str, ...] = Field(default=(), description="values that never link (a shop's shared phone)")


DEFAULT_TYPES: dict[str, IdentityType] = {
    MEMBER_ID: IdentityType(priority=0, max_per_customer=1),
    "unionid": IdentityType(priority=10, max_per_customer=1),
    "phone": IdentityType(priority=20, normalise=("phone_cn",), max_per_customer=3),
    "openid": IdentityType(priority=30, max_per_customer=5),
    "wecom_external_id": IdentityType(priority=40, max_per_customer=5),
    "email": IdentityType(priority=50, normalise=("trim", "casefold"), max_per_customer=3),
}


class IdentityRules(BaseModel):
    """``journeys/identity.yaml``: identifier types declared there override or extend DEFAULT_TYPES."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    types: dict[str, IdentityType] = Field(default_factory=lambda: dict(DEFAULT_TYPES))

    @field_validator("types")
    @classmethod
    def _with_defaults(cls, declared: dict[str, IdentityType]) -> dict[str, IdentityType]:
        for kind in declared:
            if not re.match(TYPE_PATTERN, kind):
                raise ValueError(f"type {kind!r}: lower-case letters, digits and _, starting with a letter")
        types = {**DEFAULT_TYPES, **declared}
        # Blocked values are compared after normalising, as the event's values are.
        return {kind: _blocked_normalised(kind, rule) for kind, rule in types.items()}

    def rule(self, kind: str) -> IdentityType | None:
        return self.types.get(kind)


@dataclass(frozen=True, order=True)
class Identifier:
    kind: str
    value: str

    @property
    def key(self) -> str:
        """``<type>:<value>``: the form in the graph, in logs and in customer ids."""
        return f"{self.kind}:{self.value}"


class IdentifierError(ValueError):
    """An identifier that cannot be normalised; the message names the type."""


_PHONE_NOISE = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CN_DOMESTIC = re.compile(r"1[3-9][0-9]{9}|[48]00[0-9]{7}")  # mobiles, 400/800 service numbers
_CN_TRUNK = re.compile(r"0[1-9][0-9]{8,10}")  # landlines with their trunk 0
_CN_NO_PLUS = re.compile(r"861[3-9][0-9]{9}")


def normalise(kind: str, value: str, rule: IdentityType) -> str:
    """The value in its canonical form, or IdentifierError saying why it is not one."""
    for step in rule.normalise:
        value = _NORMALISERS[step](value)
    if not value:
        raise IdentifierError(f"identity.{kind}: empty after normalising")
    if len(value) > MAX_VALUE_CHARS:
        raise IdentifierError(f"identity.{kind}: longer than {MAX_VALUE_CHARS} characters")
    if _CONTROL.search(value):
        raise IdentifierError(f"identity.{kind}: holds control characters")
    return value


def _phone_cn(value: str) -> str:
    """Phones to E.164. Domestic mainland forms get +86: mobiles (138…), 400/800 service numbers
    and landlines with their trunk 0 (010-…, 0755-…)."""
    digits = _PHONE_NOISE.sub("", value.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if _CN_DOMESTIC.fullmatch(digits):
        digits = "+86" + digits
    elif _CN_TRUNK.fullmatch(digits):
        digits = "+86" + digits[1:]
    elif _CN_NO_PLUS.fullmatch(digits):
        digits = "+" + digits
    if not _E164.match(digits):
        raise IdentifierError(f"identity.phone: {value!r} is not a phone number (E.164 or a mainland mobile)")
    return digits


_NORMALISERS: dict[str, Callable[[str], str]] = {"trim": str.strip, "casefold": str.casefold, "phone_cn": _phone_cn}


def identifiers(identity: Mapping[str, str], rules: IdentityRules) -> list[Identifier]:
    """The event's known identifiers, normalised, highest priority first; unknown types are ignored."""
    found, errors = usable_identifiers(identity, rules)
    if errors:
        raise errors[0]
    return found


def usable_identifiers(
    identity: Mapping[str, str], rules: IdentityRules
) -> tuple[list[Identifier], list[IdentifierError]]:
    """Like ``identifiers``, but a malformed value is set aside with its error instead of
    failing the event: an order with a member id and a mistyped phone still counts."""
    found: list[Identifier] = []
    errors: list[IdentifierError] = []
    for kind, raw in identity.items():
        rule = rules.rule(kind)
        if rule is None or not isinstance(raw, str) or not raw.strip():
            continue
        try:
            found.append(Identifier(kind, normalise(kind, raw, rule)))
        except IdentifierError as exc:
            errors.append(exc)
    return sorted(found, key=lambda i: (_priority(i.kind, rules), i.kind, i.value)), errors


def canonical_id(first: Identifier) -> str:
    """A new customer's id, from the first identifier the engine saw for them."""
    return first.value if first.kind == MEMBER_ID else first.key


def id_type(customer_id: str, rules: IdentityRules) -> str:
    """The identifier type a customer id was made from (member ids are bare values)."""
    kind, sep, _ = customer_id.partition(":")
    return kind if sep and kind in rules.types and kind != MEMBER_ID else MEMBER_ID


def survivor(a: str, b: str, rules: IdentityRules) -> tuple[str, str]:
    """(survivor, retired) of a merge of customers ``a`` and ``b``: the same answer everywhere."""
    first, second = sorted((a, b), key=lambda cid: (_priority(id_type(cid, rules), rules), cid))
    return first, second


@dataclass(frozen=True)
class Refusal:
    identifier: Identifier
    reason: str


def check_links(held: Iterable[Identifier], new: Iterable[Identifier], rules: IdentityRules) -> list[Refusal]:
    """Why linking ``new`` to a customer holding ``held`` is refused (empty: allowed).

    Limits count what the customer would hold afterwards, so merging two customers with a
    member id each is refused as a whole, as is a fourth phone.
    """
    holding = set(held)
    refusals: list[Refusal] = []
    for ident in sorted(set(new) - holding):
        rule = rules.rule(ident.kind)
        if rule is None:
            refusals.append(Refusal(ident, f"{ident.kind} is not an identifier type"))
        elif ident.value in rule.blocked:
            refusals.append(Refusal(ident, f"{ident.key} is blocked from linking"))
        elif sum(1 for h in holding if h.kind == ident.kind) >= rule.max_per_customer:
            refusals.append(Refusal(ident, f"at most {rule.max_per_customer} {ident.kind} per customer"))
        else:
            holding.add(ident)
    return refusals


def _blocked_normalised(kind: str, rule: IdentityType) -> IdentityType:
    try:
        blocked = tuple(normalise(kind, value, rule) for value in rule.blocked)
    except IdentifierError as exc:
        raise ValueError(f"{kind}.blocked: {exc}") from exc
    return rule.model_copy(update={"blocked": blocked})


def _priority(kind: str, rules: IdentityRules) -> int:
    rule = rules.rule(kind)
    return rule.priority if rule else 10_000
