"""Chat intents: which configured intents a customer's line shows, and the words that showed it.

A line is normalised (full-width → half-width, lower case) and split into clauses at
punctuation; each clause is segmented into words once. An intent shows when, in a clause:

* one of its ``phrases`` occurs on word boundaries (搬家 is not in 搬家具: 搬 / 家具), or
* one of its ``patterns`` matches (who buys, for whom, with what verb: "给 {people} ... 买",
  see ``patterns``), or
* every word of one of its ``keywords`` groups occurs,

and the match is neither negated nor vetoed, and no ``not_with`` word is in the line
(a hotel's 装修 is not the customer's). An intent with ``questions: false`` skips the clauses
a question mark ends (要搬家？ asks about a move; 要搬家了 tells of one). Negated: one of the ``negation_window`` words
before it is a negation, begins or ends with one (不想送人, 没人问, 还没吃完), unless it is one of
``not_negations`` (别人问, 不错). Vetoed: an ``unless`` pattern of the intent matches words
that overlap it: a meal after 吃完了, a hotel before 装修, 再 after 吃完 (a plan, not a fact).

An intent with a ``model`` (a classifier learnt from the examples operators keep,
``core.text_model``) also shows when no rule matched but one of its ``cues`` did (not
negated, not vetoed) and the model gives the line at least ``add_above``; a rule match
whose line the model gives less than ``veto_below`` does not count.

All of it is linear in the line's length (``patterns.Meter`` counts the work).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from orchestrator.core.patterns import Clause, Meter, Pattern
from orchestrator.core.scenario_spec import ChatSettings, CompiledIntent
from orchestrator.core.text import DictionaryTokenizer, Tokenizer, asked, clauses, normalize
from orchestrator.core.text_model import CharModel


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    phrase: str  # the phrase, the words a pattern matched, or the keyword group joined with +
    rule: str  # phrase | pattern | keywords | model
    text: str  # the clause it was found in


class _Reader:
    """One clause as the intents see it: its words, negations and vetoed words."""

    def __init__(self, clause: Clause, chat: ChatSettings, question: bool = False) -> None:
        self.clause = clause
        self.question = question  # a question mark ends the clause
        self.chat = chat
        self.window, self.gap = chat.negation_window, chat.max_gap
        negations, exceptions, ends = chat.negations_set, chat.not_negations_set, chat.negation_chars
        self.negated_at = [_negation(t, negations, exceptions, ends) for t in clause.tokens]

    def negated(self, start: int, end: int) -> bool:
        """A negation among the ``negation_window`` words before the match, or inside it but for its
        last word (还没有吃完 is negated; 洗发水没了 is not: 没了 is what matched)."""
        return any(self.negated_at[j] for j in range(max(0, start - self.window), end - 1))

    def vetoed(self, intent: CompiledIntent) -> list[bool]:
        covered = [False] * len(self.clause.tokens)
        for pattern in intent.unless:
            for start, end in self.clause.spans(pattern, self.gap):
                for j in range(start, end):
                    covered[j] = True
        return covered

    def found(self, pattern: Pattern, veto: list[bool]) -> tuple[int, int] | None:
        for start, end in self.clause.spans(pattern, self.gap):
            if not self.negated(start, end) and not any(veto[start:end]):
                return start, end
        return None

    def words(self, start: int, end: int) -> str:
        return self.clause.text[self.clause.bounds[start] : self.clause.bounds[end]]


def _negation(token: str, negations: frozenset[str], exceptions: frozenset[str], ends: frozenset[str]) -> bool:
    if not token or token in exceptions:
        return False
    if token[0] not in ends and token[-1] not in ends:
        return False  # the usual case: no negation character at either end
    return any(token.startswith(n) or token.endswith(n) for n in negations)


def match_intents(
    text: str,
    chat: ChatSettings,
    tokenizer: Tokenizer | None = None,
    meter: Meter | None = None,
    models: Mapping[str, CharModel] | None = None,
) -> tuple[IntentMatch, ...]:
    """Every configured intent the line shows, with the first phrase, pattern or keyword group that showed it.

    ``models``: the classifiers learnt for intents with a ``model`` section, by intent name
    (without one, such an intent is read by its rules alone)."""
    if not chat.intents or not text.strip():
        return ()
    text = text[: chat.max_chars]  # a pasted article is not a customer speaking: the cost stays bounded
    cutter = tokenizer or DictionaryTokenizer(chat.words())
    work = meter or Meter()
    parts = zip(clauses(text), asked(text), strict=True)
    readers = [_Reader(Clause(c, cutter.cut(c), work, chat.vocabulary), chat, q) for c, q in parts]
    found = []
    line = normalize(text)
    for intent in chat.compiled:
        model = (models or {}).get(intent.name) if intent.model else None
        match = _match(intent, readers, _Line(line, model))
        if match is not None:
            found.append(match)
    return tuple(found)


@dataclass
class _Line:
    """The whole line for the intent's model, scored at most once."""

    text: str
    model: CharModel | None
    _probability: float | None = None

    def probability(self) -> float:
        if self._probability is None:
            self._probability = self.model.probability(self.text) if self.model else 1.0
        return self._probability


def _match(intent: CompiledIntent, readers: list[_Reader], line: _Line) -> IntentMatch | None:
    if any(next(r.clause.spans(p, 0), None) for r in readers for p in intent.not_with):
        return None  # the line is about something else
    if not intent.questions:
        readers = [reader for reader in readers if not reader.question]  # 要搬家？ asks, it does not tell
    vetoes = [reader.vetoed(intent) for reader in readers]
    pairs = list(zip(readers, vetoes, strict=True))
    found = _by_phrase(intent, pairs) or _by_pattern(intent, pairs) or _by_keywords(intent, pairs)
    rule = intent.model
    if rule is None or line.model is None:
        return found
    if found is not None:
        vetoed = rule.veto_below is not None and line.probability() < rule.veto_below
        return None if vetoed else found
    if rule.add_above is None:
        return None
    cue = _by_cue(intent, pairs)
    return cue if cue is not None and line.probability() >= rule.add_above else None


Pairs = list[tuple[_Reader, list[bool]]]


def _by_phrase(intent: CompiledIntent, pairs: Pairs) -> IntentMatch | None:
    for reader, veto in pairs:
        for phrase, pattern in intent.phrases:
            if reader.found(pattern, veto):
                return IntentMatch(intent.name, phrase, "phrase", reader.clause.text)
    return None


def _by_pattern(intent: CompiledIntent, pairs: Pairs) -> IntentMatch | None:
    for reader, veto in pairs:
        for pattern in intent.patterns:
            span = reader.found(pattern, veto)
            if span is not None:
                return IntentMatch(intent.name, reader.words(*span), "pattern", reader.clause.text)
    return None


def _by_keywords(intent: CompiledIntent, pairs: Pairs) -> IntentMatch | None:
    for reader, veto in pairs:
        for words, group in intent.keywords:
            if all(reader.found(p, veto) for p in group):
                return IntentMatch(intent.name, "+".join(words), "keywords", reader.clause.text)
    return None


def _by_cue(intent: CompiledIntent, pairs: Pairs) -> IntentMatch | None:
    for reader, veto in pairs:
        for pattern in intent.cues:
            span = reader.found(pattern, veto)
            if span is not None:
                return IntentMatch(intent.name, reader.words(*span), "model", reader.clause.text)
    return None


def spans_of(pattern: Pattern, text: str, tokenizer: Tokenizer, gap: int) -> Iterator[str]:
    """The words ``pattern`` matches in each clause of ``text`` (for tools and tests)."""
    for part in clauses(text):
        clause = Clause(part, tokenizer.cut(part))
        for start, end in clause.spans(pattern, gap):
            yield part[clause.bounds[start] : clause.bounds[end]]
