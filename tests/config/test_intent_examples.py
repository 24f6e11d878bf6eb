"""journeys/intent_examples.yaml: checked like the other settings, fitted into plain numbers, never held-out text."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from orchestrator.config.catalog import load_config
from orchestrator.core.text import normalize
from orchestrator.intent_model import SEED, fit
from orchestrator.tools import print_intent_scores
from tests.config.helpers import problems

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = """\
chat:
  classes: {people: [妈妈, 朋友]}
  intents:
    asked:
      patterns: ['给 {people} ... 买']
      model: {cues: ['{people}'], add_above: 0.9}
"""
EXAMPLES = """\
asked:
  positive: [给妈妈看视频用的, 送朋友的]
  negative: [朋友推荐的, 妈妈说不好]
"""


def _tree(tmp_path: Path, scenarios: str, examples: str | None) -> Path:
    (tmp_path / "journeys").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "journeys" / "scenarios.yaml").write_text(textwrap.dedent(scenarios), encoding="utf-8")
    if examples is not None:
        (tmp_path / "journeys" / "intent_examples.yaml").write_text(examples, encoding="utf-8")
    return tmp_path


def test_an_intent_with_a_model_gets_one_learnt_from_its_examples(tmp_path: Path) -> None:
    root = _tree(tmp_path, SCENARIOS, EXAMPLES)
    world = load_config(root / "journeys", root / "templates").world()
    model = world.intent_models["asked"]
    assert model.probability("给妈妈看视频用的") > 0.5 > model.probability("朋友推荐的")


CASES: dict[str, tuple[str, str | None, list[str]]] = {
    "a model without examples": (
        SCENARIOS,
        None,
        ["journeys/scenarios.yaml:6:7: chat.intents.asked.model: no examples for 'asked' in intent_examples.yaml"],
    ),
    "examples of an intent that does not exist": (
        SCENARIOS,
        EXAMPLES + "askd:\n  positive: [a]\n  negative: [b]\n",
        ["journeys/intent_examples.yaml:4:1: askd: no intent 'askd' under chat.intents; known: asked"],
    ),
    "no negative examples": (
        SCENARIOS,
        "asked:\n  positive: [送朋友的]\n",
        ["journeys/intent_examples.yaml:1:1: asked.negative: Field required"],
    ),
    "a cue with an unknown class": (
        SCENARIOS.replace("cues: ['{people}']", "cues: ['{folks}']"),
        EXAMPLES,
        [
            "journeys/scenarios.yaml:6:22: chat.intents.asked.model.cues[0]: pattern '{folks}': "
            "unknown class {folks} (chat.classes has ['people'])"
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_mistake_is_located(tmp_path: Path, case: str) -> None:
    scenarios, examples, expected = CASES[case]
    assert problems(_tree(tmp_path, scenarios, examples)) == expected


def test_the_core_scores_a_line_as_scikit_learn_does() -> None:
    positive = ("给妈妈买的", "送朋友  一台", "同事问我什么牌子")
    negative = ("朋友推荐的", "适合送人", "ok 不错")
    model = fit(positive, negative, 10.0)
    texts = [normalize(t) for t in (*positive, *negative)]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=False)
    matrix = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear", random_state=SEED)
    classifier.fit(matrix, [1, 1, 1, 0, 0, 0])
    lines = ["给妈妈看视频", "朋友  推荐\t给我", "", "zzz", "送朋友的礼物，同事问了"]
    expected = classifier.predict_proba(vectorizer.transform(lines))[:, 1]
    assert [model.probability(line) for line in lines] == pytest.approx(list(expected), abs=1e-12)


def test_the_same_examples_give_the_same_weights() -> None:
    fit.cache_clear()
    first = fit(("给妈妈买的", "送朋友"), ("朋友推荐的", "适合送人"), 10.0)
    fit.cache_clear()
    assert fit(("给妈妈买的", "送朋友"), ("朋友推荐的", "适合送人"), 10.0) == first


def test_the_shipped_examples_hold_no_held_out_sentence() -> None:
    held_out = set()
    for line in (REPO / "bench" / "intents" / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] == "held_out":
            held_out.add(normalize(row["text"]))
    config = load_config(REPO / "journeys", REPO / "templates")
    shipped = [s for e in config.intent_examples.root.values() for s in (*e.positive, *e.negative)]
    assert len(shipped) > 500
    assert not {normalize(s) for s in shipped} & held_out


def test_validate_shows_what_the_examples_add(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenarios = SCENARIOS.replace("add_above: 0.9", "add_above: 0.5") + "buying_for_friends: {chat_intent: asked}\n"
    root = _tree(tmp_path, scenarios, EXAMPLES)
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"family": "buying_for_friends", "text": "给妈妈看视频用的", "label": 1, "split": "held_out"},
        {"family": "buying_for_friends", "text": "朋友推荐的", "label": 0, "split": "held_out"},
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert print_intent_scores(root / "journeys", root / "templates", corpus) == 0
    out = capsys.readouterr().out
    assert "| buying_for_friends | asked | held_out | 2 | 1 | 1.000 / 1.000 | nan / 0.000 |" in out
