"""The shipped running_out and moving rules read only the high-confidence forms: whose supply, whose move.

A false "your supply is running out" or "congratulations on the move" annoys a customer, a
missed one costs a sale: these two intents fire only where the writer (or the household)
and the product or the home are explicit, in a completed or imminent state. The lines are
the forms of dev sentences of bench/intents/corpus.jsonl (never a held-out one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.catalog import load_config
from orchestrator.core.scenario_spec import ChatSettings
from orchestrator.core.scenarios.intents import match_intents
from orchestrator.core.text import Tokenizer

REPO = Path(__file__).resolve().parents[2]

# line → the intents the shipped rules must show on it (set() = none)
LINES: dict[str, set[str]] = {
    # running_out: the supply is named, or the household's, or bought before, or bought again
    "上次买的海飞丝6瓶用完了": {"running_out"},
    "药吃完了": {"running_out"},
    "已经用完一瓶了": {"running_out"},
    "吃完就补货": {"running_out"},
    "都吃完了才来评价": {"running_out"},
    "苹果都吃完了": {"running_out"},
    "米缸见底了": {"running_out"},
    "冰箱里只剩半杯奶了": {"running_out"},
    "我们快用完了": {"running_out"},
    "我的也快吃完了": {"running_out"},
    # ...and not where nothing says what was finished, or whose
    "已经吃完了": set(),  # a meal as often as a supply
    "都吃完了": set(),
    "快喝完了": set(),  # a drink in hand
    "柿子熟透了，都快没了": set(),
    "吃完会回购": set(),  # a plan
    "每月用完一个本子": set(),  # a habit, and not a supply the shop sells
    "快用完了吗？": set(),  # a question
    "我的耐心快用完了": set(),  # an idiom
    "钱快用完了": set(),  # money, not a product
    "刚用完电脑": set(),  # a device used, not used up
    "咖啡喝完了": set(),  # a cup
    "吃光了安眠药": set(),  # a figure of speech
    # moving: the writer's or the household's move, done or at hand
    "我要搬家了": {"moving"},
    "前天刚搬家": {"moving"},
    "来帮我搬家": {"moving"},
    "搬家了，飞了飞了": {"moving"},
    "房子正在装修": {"moving"},
    "明儿搬新窝了": {"moving"},
    "我准备搬走": {"moving"},
    "房子找好了": {"moving"},
    # ...and not a question, a habit, a plan, somebody else, an app, a shop, an opinion
    "要搬家？": set(),
    "新家全部弄好啦？": set(),
    "为什么搬家还需要出门跳呢": set(),
    "上次搬家卖了两百斤书": set(),
    "我能否入伙找个救赎": set(),
    "同事搬家了": set(),
    "公众号搬家了": set(),
    "小区在装修": set(),
    "我觉得租房不如买房": set(),
    "要搬家的话": set(),
    "我搬走了，电信座机不能移到新的写字楼": set(),  # an office's move
    "搬家的时候，逛超市的时候": set(),
    # buying_for_friends: seeing somebody off, a simile, a choice asked, staff advice, a giveaway, an author
    "送朋友入住": set(),
    "接送女朋友上下班": set(),
    "送上了女朋友一般的温暖": set(),
    "都自己喂还是送人呢": set(),
    "建议您先到实体店购买一下其他的礼物": set(),
    "礼物送给热评第一的人": set(),
    "感谢作者给孩子一个美妙的故事": set(),
    "快递给孩子的": {"asked_by_friend"},
    "要不是给家人买的": {"asked_by_friend"},  # 要不是 affirms
    "给孩子做作业用": {"asked_by_friend"},
    "买的第二台，给老人平板用": {"asked_by_friend"},
    "不知道这围巾要送给谁": {"asked_by_friend"},
    "如果不是替朋友定的房间": {"asked_by_friend"},  # a counterfactual affirms
}


@pytest.fixture(scope="module")
def shipped() -> tuple[ChatSettings, Tokenizer]:
    world = load_config(REPO / "journeys", REPO / "templates", only=[]).world()
    assert world.tokenizer is not None
    return world.scenarios.chat, world.tokenizer


@pytest.mark.parametrize("line", list(LINES))
def test_the_shipped_rules_fire_on_explicit_forms_only(line: str, shipped: tuple[ChatSettings, Tokenizer]) -> None:
    chat, tokenizer = shipped
    assert {m.intent for m in match_intents(line, chat, tokenizer)} == LINES[line]


def test_running_out_and_moving_skip_questions_in_the_shipped_rules(shipped: tuple[ChatSettings, Tokenizer]) -> None:
    chat, _ = shipped
    reads = {name: rule.questions for name, rule in chat.intents.items()}
    assert reads == {"running_out": False, "asked_by_friend": True, "moving": False}
