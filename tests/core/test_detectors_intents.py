"""Chat intents: phrases on word boundaries, keyword groups, negation; jieba and the core fallback agree."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from orchestrator.config.catalog import load_config
from orchestrator.core.patterns import Meter
from orchestrator.core.scenario_spec import ChatSettings, IntentRule
from orchestrator.core.scenarios.intents import match_intents
from orchestrator.core.text import DictionaryTokenizer, Tokenizer, clauses, normalize
from orchestrator.core.text_model import CharModel
from orchestrator.segmentation import JiebaTokenizer

CHAT = ChatSettings(
    intents={
        "running_out": IntentRule(
            phrases=("快吃完了", "快吃完", "只剩一点了", "用完了", "吃完了", "见底了"),
            keywords=(("剩", "不多"),),
        ),
        "asked_by_friend": IntentRule(
            phrases=("什么牌子", "帮朋友带", "送人"),
            keywords=(("同事", "问"), ("朋友", "问")),
        ),
        "moving": IntentRule(phrases=("装修", "搬家", "乔迁", "乔迁之喜", "新房")),
    }
)
REPO = Path(__file__).resolve().parents[2]
TOKENIZERS: dict[str, Tokenizer] = {
    "jieba": JiebaTokenizer(CHAT.words()),
    "fallback": DictionaryTokenizer(CHAT.words()),
}

# line → the (intent, phrase) pairs it must show; [] = nothing.
CASES: dict[str, list[tuple[str, str]]] = {
    "蛋白粉快吃完了": [("running_out", "快吃完了")],
    "只剩一点了": [("running_out", "只剩一点了")],
    "已经用完了，再来一罐": [("running_out", "用完了")],
    "罐子见底了": [("running_out", "见底了")],
    "剩的不多了": [("running_out", "剩+不多")],
    "不错，快吃完了": [("running_out", "快吃完了")],  # the negation is in another clause
    "还没吃完呢": [],
    "还没用完": [],
    "没用完": [],
    "我没说快吃完了": [],  # simple negation: two words back
    "别担心还没用完了": [],
    "同事过来问这是什么牌子": [("asked_by_friend", "什么牌子")],
    "帮朋友带一份": [("asked_by_friend", "帮朋友带")],
    "这个送人挺好": [("asked_by_friend", "送人")],
    "不是送人的": [],
    "朋友问我在哪买": [("asked_by_friend", "朋友+问")],
    "别人问我这是什么牌子": [("asked_by_friend", "什么牌子")],  # 别人 is not 别
    "下个月搬家": [("moving", "搬家")],
    "新房装修中": [("moving", "装修")],
    "乔迁之喜！": [("moving", "乔迁之喜")],
    "我们家不装修": [],
    "收到了，谢谢": [],
    "": [],
    "ＯＫ，快吃完了！": [("running_out", "快吃完了")],  # full-width forms
    "装修完搬家，蛋白粉也快吃完了": [("running_out", "快吃完了"), ("moving", "装修")],
}


@pytest.mark.parametrize("tokenizer", list(TOKENIZERS))
@pytest.mark.parametrize("line", list(CASES))
def test_lines_show_the_configured_intents(line: str, tokenizer: str) -> None:
    found = [(m.intent, m.phrase) for m in match_intents(line, CHAT, TOKENIZERS[tokenizer])]
    assert sorted(found) == sorted(CASES[line])


def test_a_phrase_inside_a_longer_word_does_not_count_with_jieba() -> None:
    # 搬家具 segments as 搬 / 家具: "moving furniture", not moving house.
    assert match_intents("我要搬家具", CHAT, TOKENIZERS["jieba"]) == ()


def test_a_match_records_the_phrase_the_rule_and_the_clause() -> None:
    [match] = match_intents("你好。同事过来问这是什么牌子", CHAT, TOKENIZERS["jieba"])
    assert (match.intent, match.phrase, match.rule, match.text) == (
        "asked_by_friend",
        "什么牌子",
        "phrase",
        "同事过来问这是什么牌子",
    )


def test_without_intents_nothing_is_matched() -> None:
    assert match_intents("快吃完了", ChatSettings(), None) == ()


@pytest.mark.parametrize(("window", "found"), [(0, True), (1, True), (2, False)])
def test_the_negation_window_counts_words_before_the_phrase(window: int, found: bool) -> None:
    chat = CHAT.model_copy(update={"negation_window": window})
    assert bool(match_intents("还没说快吃完了", chat, DictionaryTokenizer(chat.words()))) is found


def test_the_fallback_segmenter_keeps_dictionary_words_whole() -> None:
    tokens = DictionaryTokenizer(["快吃完了", "蛋白粉"]).cut("蛋白粉快吃完了abc12")
    assert tokens == ["蛋白粉", "快吃完了", "abc12"]


def test_text_is_normalised_and_split_into_clauses() -> None:
    assert normalize("ＡＢＣ，") == "abc,"
    assert clauses("好的，快吃完了！还有吗?") == ["好的", "快吃完了", "还有吗"]


def test_a_segmenter_that_changes_the_text_falls_back_to_characters() -> None:
    class Lossy:
        def cut(self, text: str) -> list[str]:
            return [text[:-1]]

    assert [m.phrase for m in match_intents("蛋白粉快吃完了", CHAT, Lossy())] == ["快吃完了"]


@pytest.fixture(scope="module")
def shipped() -> tuple[ChatSettings, Tokenizer]:
    """The intents as shipped in journeys/scenarios.yaml, segmented by jieba as the worker does."""
    config = load_config(REPO / "journeys", REPO / "templates", only=[])
    world = config.world()
    assert world.tokenizer is not None
    return world.scenarios.chat, world.tokenizer


@pytest.fixture(scope="module")
def shipped_models() -> Mapping[str, CharModel]:
    """The intents' classifiers as the worker has them (learnt from journeys/intent_examples.yaml)."""
    models = load_config(REPO / "journeys", REPO / "templates", only=[]).world().intent_models
    assert set(models) == {"asked_by_friend"}
    return models


# Lines a review found firing, and what must (not) fire on them with the shipped rules.
SHIPPED: dict[str, set[str]] = {
    "刚吃完了晚饭": set(),  # a meal, not a product running out
    "吃完早餐去花园走走": set(),
    "我用完美解码播放": set(),  # 完美 is a word: 用完 is not in it
    "家用完全OK": set(),
    "不想送人": set(),  # 不想 begins with a negation
    "没人问我什么牌子": set(),
    "这是什么牌子啊，质量这么差": set(),  # nobody else asked
    "同事问我周末去哪玩": set(),  # a colleague asked, but not about a product
    "帮朋友搬家累坏了": set(),  # a friend's move
    "酒店正在装修，很吵": set(),
    "吃完再买": set(),  # a plan, not a fact
    "还没用完": set(),
    "同事过来问这是什么牌子": {"asked_by_friend"},
    "别人问我这是什么牌子": {"asked_by_friend"},
    "给老人买的，很喜欢": {"asked_by_friend"},
    "买来送人的": {"asked_by_friend"},
    "帮同事问一下，链接发我": {"asked_by_friend"},
    "蛋白粉快吃完了": {"running_out"},
    "上次买的两瓶都用完了": {"running_out"},
    "刚好家里洗发水没了": {"running_out"},
    "下个月搬家": {"moving"},
    "新房还在装修": {"moving"},
    # Lines of customer chat (the corpus's chat sources speak so): who moves, whose supply, whose gift.
    "我下个月搬走，空调能拆吗": {"moving"},
    "刚搬的地方，信号不好": {"moving"},
    "我们在看房子，下个月租房": {"moving"},
    "你搬家了吗？": set(),  # somebody else's move, and a question
    "快递点要搬家了": set(),  # a place that moves
    "软件搬家到SD卡": set(),  # an app's data
    "把旧沙发搬走": set(),  # an object carried away
    "孩子快把奶粉喝完了": {"running_out"},
    "家里的猫粮所剩无几了": {"running_out"},
    "流量快用完了": set(),  # a phone plan's data
    "买票用光了人品": set(),  # an idiom
    "一个月哪能用完一瓶": set(),  # what could be, not what is
    "打算送这个给她做礼物": {"asked_by_friend"},
    "送人过河": set(),  # ferrying people
    "记得带礼物": set(),  # a visit
}


@pytest.mark.parametrize("line", list(SHIPPED))
def test_the_shipped_intents_on_lines_a_review_found(
    line: str, shipped: tuple[ChatSettings, Tokenizer], shipped_models: Mapping[str, CharModel]
) -> None:
    chat, tokenizer = shipped
    assert {m.intent for m in match_intents(line, chat, tokenizer)} == SHIPPED[line]
    assert {m.intent for m in match_intents(line, chat, tokenizer, models=shipped_models)} == SHIPPED[line]


@pytest.mark.parametrize("tokenizer", list(TOKENIZERS))
def test_matching_work_grows_linearly_with_the_line(tokenizer: str, shipped: tuple[ChatSettings, Tokenizer]) -> None:
    """A 40,000-character line costs about ten times a 4,000-character one, not a hundred."""
    chat = shipped[0].model_copy(update={"max_chars": 100_000})  # read whole: the cost itself is measured
    cutter = TOKENIZERS[tokenizer] if tokenizer == "fallback" else shipped[1]
    unit = "同事过来问这是什么牌子朋友朋友给老人买吃完吃完了新房装修不想送人"  # no punctuation: one clause
    work = []
    for size in (4_000, 40_000):
        meter = Meter()
        match_intents((unit * (size // len(unit) + 1))[:size], chat, cutter, meter)
        work.append(meter.steps)
    assert work[1] <= 11 * work[0]
    assert work[0] <= 300 * 4_000  # bounded per character by the rules, not by the line


def test_a_pattern_spans_words_and_gaps_but_not_clauses() -> None:
    chat = ChatSettings.model_validate(
        {"classes": {"people": ["朋友", "老人"]}, "intents": {"gift": {"patterns": ["给|帮 {people} ... 买"]}}}
    )
    cutter = JiebaTokenizer(chat.words())
    assert [m.phrase for m in match_intents("给老人买的", chat, cutter)] == ["给老人买"]
    assert [m.phrase for m in match_intents("帮朋友挑了一台买", chat, cutter)] == ["帮朋友挑了一台买"]
    assert match_intents("给老人，买的", chat, cutter) == ()  # a comma ends the clause
    assert match_intents("帮朋友看了好几天才决定买", chat, cutter) == ()  # more than max_gap words between
    assert match_intents("不是给老人买的", chat, cutter) == ()


def test_an_unless_pattern_vetoes_only_what_it_overlaps() -> None:
    rule = {"phrases": ["吃完了"], "unless": ["吃完了 晚饭|早餐"]}
    chat = ChatSettings.model_validate({"intents": {"out": rule}})
    cutter = JiebaTokenizer(chat.words())
    assert match_intents("刚吃完了晚饭", chat, cutter) == ()
    assert [m.intent for m in match_intents("晚饭后，蛋白粉吃完了", chat, cutter)] == ["out"]


def test_a_line_is_read_up_to_max_chars() -> None:
    chat = CHAT.model_copy(update={"max_chars": 20})
    cutter = TOKENIZERS["jieba"]
    assert match_intents("好" * 10 + "快吃完了", chat, cutter) != ()
    assert match_intents("好" * 20 + "快吃完了", chat, cutter) == ()
