"""How well the chat intents read real customer sentences, beside the baselines.

    .venv/bin/python -m bench.intents.report                 # the shipped journeys/
    .venv/bin/python -m bench.intents.report --journeys DIR  # an operator's edited copy

Reads the labelled sentences in ``bench/intents/corpus.jsonl`` (see README.md there) and
prints, per intent family and split, precision and recall of: the intents as configured
(``journeys/scenarios.yaml``, segmented by jieba as the worker does), the phrase lists
shipped before word patterns, and a plain regular expression over the cue words. Then
the lines that must never fire, and the matching work on a 4,000- and a 40,000-character line.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Mapping
from pathlib import Path

from orchestrator.config.catalog import load_config
from orchestrator.core.patterns import Meter
from orchestrator.core.scenario_spec import ChatSettings
from orchestrator.core.scenarios.intents import match_intents
from orchestrator.core.text import Tokenizer
from orchestrator.core.text_model import CharModel
from orchestrator.intent_scores import SPLITS, Labelled, read_corpus, reader, score
from orchestrator.segmentation import JiebaTokenizer

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).with_name("corpus.jsonl")
INTENT = {"buying_for_friends": "asked_by_friend", "running_out": "running_out", "moving": "moving"}
REGEX = {
    "buying_for_friends": r"送人|送给|送朋友|给朋友|帮朋友|帮同事|给同事|什么牌子|礼物|买给",
    "running_out": r"吃完|用完|喝完|见底|快没了|只剩",
    "moving": r"搬家|装修|新房|新家|乔迁|交房",
}
# The phrase lists journeys/scenarios.yaml shipped before word patterns (a baseline).
BEFORE = ChatSettings.model_validate(
    {
        "intents": {
            "running_out": {
                "phrases": [
                    "快吃完了",
                    "快吃完",
                    "快喝完了",
                    "快用完了",
                    "快用完",
                    "只剩一点了",
                    "只剩一点",
                    "用完了",
                    "吃完了",
                    "喝完了",
                    "见底了",
                ],
                "keywords": [["剩", "不多"], ["剩", "两三天"], ["剩", "最后"]],
            },
            "asked_by_friend": {
                "phrases": [
                    "什么牌子",
                    "哪个牌子",
                    "哪里买的",
                    "链接发我",
                    "帮朋友带",
                    "帮同事带",
                    "帮朋友买",
                    "帮同事买",
                    "送人",
                    "送朋友",
                    "送同事",
                ],
                "keywords": [["同事", "问"], ["朋友", "问"], ["闺蜜", "问"], ["同事", "也想要"], ["朋友", "也想要"]],
            },
            "moving": {"phrases": ["装修", "搬家", "乔迁", "乔迁之喜", "新房", "新家", "入伙", "交房"]},
        }
    }
)
NEVER = {"running_out": ["刚吃完了晚饭", "吃完早餐去花园走走", "我用完美解码播放", "家用完全OK"]}


def table(rows: list[Labelled], chat: ChatSettings, tokenizer: Tokenizer, models: Mapping[str, CharModel]) -> list[str]:
    before = JiebaTokenizer(BEFORE.words())
    lines = [
        "| family | split | sentences | positives | intents (P / R) | rules alone (P / R) "
        "| phrase lists before (P / R) | regex (P / R) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for family, intent in INTENT.items():
        for split in SPLITS:
            part = [r for r in rows if r.family == family and r.split == split]
            if not part:
                continue
            now = score(part, reader(chat, tokenizer, intent, models)).cell()
            rules = score(part, reader(chat, tokenizer, intent)).cell()
            old = score(part, reader(BEFORE, before, intent)).cell()
            pattern = re.compile(REGEX[family])
            plain = score(part, lambda text, p=pattern: bool(p.search(text))).cell()  # type: ignore[misc]
            positives = sum(r.label for r in part)
            lines.append(f"| {family} | {split} | {len(part)} | {positives} | {now} | {rules} | {old} | {plain} |")
    return lines


def never(chat: ChatSettings, tokenizer: Tokenizer, models: Mapping[str, CharModel]) -> list[str]:
    lines = []
    for intent, texts in NEVER.items():
        for text in texts:
            fired = any(m.intent == intent for m in match_intents(text, chat, tokenizer, models=models))
            lines.append(f"- {text}: {intent} {'FIRES' if fired else 'does not fire'}")
    return lines


def cost(shipped: ChatSettings, tokenizer: Tokenizer, models: Mapping[str, CharModel]) -> list[str]:
    unit = "同事过来问这是什么牌子朋友朋友给老人买吃完吃完了新房装修不想送人还没吃完"
    lines = [f"(read whole: the shipped `max_chars` {shipped.max_chars:,} would stop at that many characters)"]
    chat = shipped.model_copy(update={"max_chars": 10**6})
    for size in (4_000, 40_000):
        line = (unit * (size // len(unit) + 1))[:size]
        took, cut = [], []
        for _ in range(3):  # the best of three: the machine is shared
            meter = Meter()
            start = time.perf_counter()
            match_intents(line, chat, tokenizer, meter, models)
            took.append(time.perf_counter() - start)
            start = time.perf_counter()
            tokenizer.cut(line)
            cut.append(time.perf_counter() - start)
        lines.append(
            f"- {size:,} characters in one clause: {meter.steps:,} units of work, "
            f"{min(took) * 1000:.0f} ms (of which jieba's segmentation {min(cut) * 1000:.0f} ms)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=Path, default=REPO / "journeys")
    parser.add_argument("--templates", type=Path, default=REPO / "templates")
    args = parser.parse_args()
    world = load_config(args.journeys, args.templates, only=[]).world()
    chat, tokenizer = world.scenarios.chat, world.tokenizer or JiebaTokenizer(world.scenarios.chat.words())
    rows = read_corpus(CORPUS)
    tokenizer.cut("热身")  # jieba loads its dictionary on the first line: not part of the cost
    print("## Chat intents on real customer sentences: reviews and chat (bench/intents/corpus.jsonl)\n")
    print("\n".join(table(rows, chat, tokenizer, world.intent_models)))
    print(
        "\n`intents`: as configured, models included; `rules alone`: without the models. The models "
        "learnt from dev and check sentences (journeys/intent_examples.yaml): only held_out measures them."
    )
    print("\nMeals and idioms (must not fire):\n")
    print("\n".join(never(chat, tokenizer, world.intent_models)))
    print("\nMatching cost (linear in the line):\n")
    print("\n".join(cost(chat, tokenizer, world.intent_models)))


if __name__ == "__main__":
    main()
