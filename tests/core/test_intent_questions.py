"""An intent with ``questions: false`` skips the clauses a question mark ends: 要搬家？ asks, 要搬家了 tells."""

from __future__ import annotations

from orchestrator.core.scenario_spec import ChatSettings
from orchestrator.core.scenarios.intents import match_intents
from orchestrator.core.text import asked, clauses
from orchestrator.segmentation import JiebaTokenizer


def test_asked_marks_the_clauses_a_question_mark_ends() -> None:
    for line in ("要搬家？", "我要搬家了，你呢?", "好的，快吃完了！还有吗?", "？？", "a, b ?c", "你好！ 吗？ 好"):
        assert len(asked(line)) == len(clauses(line))
    assert asked("要搬家？") == [True]
    assert asked("我要搬家了，你呢?") == [False, True]
    assert asked("你好！ 吗？ 好") == [False, True, False]
    assert asked("？？") == []


def test_an_intent_that_skips_questions_still_reads_the_other_clauses() -> None:
    rule = {"phrases": ["搬家"], "questions": False}
    chat = ChatSettings.model_validate({"intents": {"moving": rule, "asked": {"phrases": ["搬家"]}}})
    cutter = JiebaTokenizer(chat.words())
    assert [m.intent for m in match_intents("要搬家？", chat, cutter)] == ["asked"]
    assert [m.intent for m in match_intents("我要搬家了，你呢？", chat, cutter)] == ["moving", "asked"]
    assert [m.intent for m in match_intents("要搬家吗", chat, cutter)] == ["moving", "asked"]  # no mark: for a pattern
