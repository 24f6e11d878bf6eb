"""Chat intents: which configured intents a customer's line shows, and the phrase that showed it.

A line is normalised (full-width → half-width, lower case) and split into clauses at
punctuation; each clause is segmented into words. A phrase counts where it starts and
ends on word boundaries (so 搬家 is not found in 搬家具, which segments as 搬 / 家具) and
none of the ``negation_window`` words before it is a negation (没, 还没, 不, 别, 未 … or a
word ending in one), so 还没吃完 is not 吃完. A keyword group counts when each of its
words does, in the same clause.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core.scenario_spec import ChatSettings, IntentRule
from orchestrator.core.text import DictionaryTokenizer, Tokenizer, clauses, normalize


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    phrase: str  # the phrase, or the keyword group joined with +
    rule: str  # phrase | keywords
    text: str  # the clause it was found in


class _Clause:
    def __init__(self, text: str, tokens: list[str], negations: frozenset[str], window: int) -> None:
        if "".join(tokens) != text:  # a segmenter that drops or changes characters: fall back to characters
            tokens = list(text)
        self.text = text
        self.spans: list[tuple[int, int, str]] = []
        index = 0
        for token in tokens:
            self.spans.append((index, index + len(token), token))
            index += len(token)
        self.edges = {s for s, _, _ in self.spans} | {e for _, e, _ in self.spans}
        self.negations = negations
        self.window = window

    def find(self, word: str) -> bool:
        """True when ``word`` occurs on word boundaries and is not negated."""
        start = self.text.find(word)
        while start >= 0:
            end = start + len(word)
            if start in self.edges and end in self.edges and not self._negated(start):
                return True
            start = self.text.find(word, start + 1)
        return False

    def _negated(self, start: int) -> bool:
        before = [t for s, e, t in self.spans if e <= start and t.strip()]
        recent = before[-self.window :] if self.window else []
        return any(t in self.negations or any(t.endswith(n) for n in self.negations) for t in recent)


def match_intents(text: str, chat: ChatSettings, tokenizer: Tokenizer | None = None) -> tuple[IntentMatch, ...]:
    """Every configured intent the line shows, with the first phrase (or keyword group) that showed it."""
    if not chat.intents or not text.strip():
        return ()
    cutter = tokenizer or DictionaryTokenizer(chat.words())
    negations = frozenset(normalize(n) for n in chat.negations)
    parts = [_Clause(c, cutter.cut(c), negations, chat.negation_window) for c in clauses(text)]
    found = []
    for name, rule in chat.intents.items():
        match = _match(name, rule, parts)
        if match is not None:
            found.append(match)
    return tuple(found)


def _match(name: str, rule: IntentRule, parts: list[_Clause]) -> IntentMatch | None:
    for part in parts:
        for phrase in rule.phrases:
            if part.find(normalize(phrase)):
                return IntentMatch(name, phrase, "phrase", part.text)
    for part in parts:
        for group in rule.keywords:
            if all(part.find(normalize(word)) for word in group):
                return IntentMatch(name, "+".join(group), "keywords", part.text)
    return None
