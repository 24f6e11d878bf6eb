"""journeys/identity.yaml: validated like every operator file, with file:line:field errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.catalog import load_config
from orchestrator.core.identity import DEFAULT_TYPES
from tests.config.helpers import problems
from tests.config.test_config import _tree

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_rules_extend_the_built_in_types() -> None:
    rules = load_config(REPO / "journeys", REPO / "templates").world().identity
    assert set(DEFAULT_TYPES) < set(rules.types)
    assert rules.types["douyin_openid"].max_per_customer == 3
    assert rules.types["phone"].blocked == ("+864008208820",)  # normalised as events are


def test_without_the_file_the_built_in_types_apply(tmp_path: Path) -> None:
    config = load_config(_tree(tmp_path) / "journeys", tmp_path / "templates")
    assert config.world().identity.types == DEFAULT_TYPES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "types:\n  phone:\n    priority: 20\n    max_per_customer: 0\n",
            "journeys/identity.yaml:4:5: types.phone.max_per_customer: Input should be greater than or equal to 1",
        ),
        (
            "types:\n  Bad-Type:\n    priority: 5\n",
            "journeys/identity.yaml:1:1: types: Value error, type 'Bad-Type': lower-case letters, digits and _, "
            "starting with a letter",
        ),
        (
            "types:\n  phone:\n    priority: 20\n    normalise: [phone_cn]\n    blocked: ['12']\n",
            "journeys/identity.yaml:1:1: types: Value error, phone.blocked: identity.phone: '12' is not a phone number "
            "(E.164 or a mainland mobile)",
        ),
        (
            "types:\n  kakao:\n    priority: 5\n    normalize: [trim]\n",
            "journeys/identity.yaml:4:5: types.kakao.normalize: unknown key 'normalize' (did you mean 'normalise'?); "
            "allowed here: priority, normalise, max_per_customer, blocked",
        ),
    ],
)
def test_mistakes_are_located(tmp_path: Path, text: str, expected: str) -> None:
    root = _tree(tmp_path)
    (root / "journeys" / "identity.yaml").write_text(text)
    assert problems(root) == [expected]
