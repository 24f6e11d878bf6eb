"""Write the shipped ``journeys/intent_examples.yaml`` from the corpus's dev and check sentences.

    .venv/bin/python -m bench.intents.examples

Each intent whose rule has a ``model`` (in the shipped ``journeys/scenarios.yaml``) learns
from the sentences of its family (positives and the hard negatives that share their words);
intents without one get no examples. A held-out sentence is never written (only
``held_out`` measures what the model adds). Operators who keep their own examples edit the
YAML file instead; this command is for the shipped one.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.intents.report import CORPUS, INTENT, REPO
from orchestrator.config.catalog import load_config
from orchestrator.intent_model import INTENT_EXAMPLES_FILE
from orchestrator.intent_scores import read_corpus

LEARN_FROM = ("dev", "check")
HEADER = """\
# Labelled example sentences for the chat intents' classifiers (scenarios.yaml: an intent's `model`).
# positive: the sentence shows the intent; negative: it shares the intent's words but does not.
# A model is fitted on them when the worker starts (character 1-3-grams, logistic regression,
# fixed seed). Shipped: the dev and check sentences of bench/intents/corpus.jsonl (real customer
# reviews and chat, labelled by the rules in bench/intents/README.md), written by
# `python -m bench.intents.examples`; never a held_out one (a test checks it). To extend, add
# sentences of your customers, then see the effect: `orchestrator validate --intents FILE`.
"""


def examples(corpus: Path = CORPUS) -> dict[str, dict[str, list[str]]]:
    rows = [r for r in read_corpus(corpus) if r.split in LEARN_FROM]
    chat = load_config(REPO / "journeys", REPO / "templates", only=[]).scenarios.chat
    found = {}
    for family, intent in INTENT.items():
        rule = chat.intents.get(intent)
        if rule is None or rule.model is None:
            continue
        part = [r for r in rows if r.family == family]
        positive, negative = [r.text for r in part if r.label], [r.text for r in part if not r.label]
        found[intent] = {"positive": positive, "negative": negative}
    return found


def main() -> None:
    body = yaml.safe_dump(examples(), allow_unicode=True, width=10**6, sort_keys=False)
    (REPO / "journeys" / INTENT_EXAMPLES_FILE).write_text(HEADER + body, encoding="utf-8")


if __name__ == "__main__":
    main()
