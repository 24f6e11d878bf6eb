"""How the configured chat intents read a labelled corpus: precision and recall per family and split.

Used by ``orchestrator validate --intents FILE`` (an operator checks an edit of
``journeys/scenarios.yaml`` against ``bench/intents/corpus.jsonl`` before it ships) and by
``bench/intents/report.py``. A corpus line is JSON with ``family`` (the intent family:
``buying_for_friends``, ``running_out``, ``moving``), ``text``, ``label`` (1 or 0) and
``split``; each family is read by the intent its detector names (``chat_intent``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.core.scenario_spec import ChatSettings, ScenarioSettings
from orchestrator.core.scenarios.intents import match_intents
from orchestrator.core.text import Tokenizer
from orchestrator.core.text_model import CharModel
from orchestrator.errors import ConfigError

SPLITS = ("dev", "check", "held_out")


@dataclass(frozen=True)
class Labelled:
    family: str
    text: str
    label: bool
    split: str


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    def cell(self) -> str:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        return f"{precision:.3f} / {recall:.3f}"


def read_corpus(path: Path) -> list[Labelled]:
    """The labelled lines; a bad one is a ConfigError naming file:line."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
            found.append(Labelled(str(row["family"]), str(row["text"]), bool(row["label"]), str(row["split"])))
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError([f"{path}:{number}: not a labelled sentence ({error})"]) from None
    return found


def family_intents(settings: ScenarioSettings) -> dict[str, str]:
    """Which intent reads each family: the ``chat_intent`` of its detector."""
    sections = {
        "buying_for_friends": settings.buying_for_friends,
        "running_out": settings.consumption_cycle_ending,
        "moving": settings.moving_house,
    }
    return {family: s.chat_intent for family, s in sections.items() if s is not None and s.chat_intent}


def score(rows: Iterable[Labelled], says: Callable[[str], bool]) -> Score:
    tp = fp = fn = 0
    for row in rows:
        said = says(row.text)
        tp += said and row.label
        fp += said and not row.label
        fn += row.label and not said
    return Score(tp, fp, fn)


def reader(
    chat: ChatSettings, tokenizer: Tokenizer | None, intent: str, models: Mapping[str, CharModel] | None = None
) -> Callable[[str], bool]:
    return lambda text: any(m.intent == intent for m in match_intents(text, chat, tokenizer, models=models))


def table(
    rows: list[Labelled],
    settings: ScenarioSettings,
    tokenizer: Tokenizer | None,
    models: Mapping[str, CharModel] | None = None,
) -> list[str]:
    """A Markdown table: per family and split, the sentences, positives, precision / recall,
    as configured and with the rules alone (without the intents' models).

    The examples the intents' models learnt from are sentences of ``dev`` and ``check``
    (``journeys/intent_examples.yaml``): only ``held_out`` measures what the models add."""
    lines = [
        "| family | intent | split | sentences | positives | precision / recall | rules alone |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for family, intent in family_intents(settings).items():
        for split in SPLITS:
            part = [r for r in rows if r.family == family and r.split == split]
            if part:
                cell = score(part, reader(settings.chat, tokenizer, intent, models)).cell()
                rules = score(part, reader(settings.chat, tokenizer, intent)).cell()
                positives = sum(r.label for r in part)
                lines.append(f"| {family} | {intent} | {split} | {len(part)} | {positives} | {cell} | {rules} |")
    return lines
