"""An intent's model beside its rules: it adds lines only where a cue shows, and can veto rule matches.

The models here are made by hand (plain numbers, as the core receives them), so the tests
pin what the core does with a probability, not what a fitted model happens to learn.
"""

from __future__ import annotations

import math

import pytest

from orchestrator.core.scenario_spec import ChatSettings, IntentRule, ModelRule
from orchestrator.core.scenarios.intents import match_intents
from orchestrator.core.text import DictionaryTokenizer
from orchestrator.core.text_model import CharModel

# 看视频 pushes the score up; 推荐 pushes it down; the bias alone gives 0.5.
MODEL = CharModel(features={"看视频": (1.0, 6.0), "推荐": (1.0, -6.0), "妈": (1.0, 0.0)}, bias=0.0)


def _chat(model: ModelRule) -> ChatSettings:
    return ChatSettings(
        classes={"people": ("妈妈", "朋友")},
        intents={"asked_by_friend": IntentRule(patterns=("给 {people} ... 买",), model=model)},
    )


def _found(line: str, chat: ChatSettings, models: dict[str, CharModel] | None) -> list[tuple[str, str, str]]:
    tokenizer = DictionaryTokenizer((*chat.words(), "看视频", "推荐"))
    return [(m.intent, m.phrase, m.rule) for m in match_intents(line, chat, tokenizer, models=models)]


ADD = ModelRule(cues=("{people}",), add_above=0.9)


def test_the_model_adds_a_line_no_rule_matched_where_a_cue_shows() -> None:
    assert _found("给妈妈看视频用的", _chat(ADD), {"asked_by_friend": MODEL}) == [("asked_by_friend", "妈妈", "model")]


@pytest.mark.parametrize(
    "line",
    [
        "给妈妈推荐的",  # the model says no
        "看视频用的",  # no cue
        "不给妈妈看视频",  # the cue is negated
    ],
)
def test_the_model_adds_nothing_without_a_cue_or_below_its_threshold(line: str) -> None:
    assert _found(line, _chat(ADD), {"asked_by_friend": MODEL}) == []


def test_without_the_learnt_model_the_rules_alone_decide() -> None:
    assert _found("给妈妈看视频用的", _chat(ADD), None) == []
    assert _found("给妈妈买的", _chat(ADD), None) == [("asked_by_friend", "给妈妈买", "pattern")]


def test_a_rule_match_the_model_doubts_is_vetoed() -> None:
    veto = _chat(ModelRule(veto_below=0.1))
    models = {"asked_by_friend": MODEL}
    assert _found("给妈妈买的", veto, models) == [("asked_by_friend", "给妈妈买", "pattern")]  # P = 0.5
    assert _found("给妈妈买的，推荐", veto, models) == []  # P < 0.1


def test_add_above_needs_cues_and_a_model_needs_a_threshold() -> None:
    with pytest.raises(ValueError, match="add_above needs cues"):
        ModelRule(add_above=0.9)
    with pytest.raises(ValueError, match="needs add_above, veto_below or both"):
        ModelRule(cues=("{people}",))


def test_the_probability_is_the_logistic_of_the_weighted_tf_idf() -> None:
    model = CharModel(features={"a": (2.0, 1.0), "b": (1.0, -1.0)}, bias=0.5, longest=1)
    # a: (1 + log 2) × 2, b: 1 × 1, scaled to unit length
    a, b = (1 + math.log(2)) * 2.0, 1.0
    expected = 1 / (1 + math.exp(-(0.5 + (a - b) / math.hypot(a, b))))
    assert model.probability("aab") == pytest.approx(expected)
    assert model.probability("zz") == pytest.approx(1 / (1 + math.exp(-0.5)))  # no known n-gram: the bias
    # far out on either side: no overflow
    assert CharModel(features={"a": (1.0, -900.0)}, bias=0.0).probability("a") < 1e-300
    assert CharModel(features={"a": (1.0, 900.0)}, bias=0.0).probability("a") == 1.0
